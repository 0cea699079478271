import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { APP_DEFAULTED_VARIABLES, APP_SECRET_VARIABLES, APP_TOKENS_VARIABLE, appVariables } from "../k8s/appEnvironment";
import { configReferenceTable } from "../scripts/configReference";
import { renderStack } from "./helpers/pulumiMocks";
import { REPO_ROOT } from "./helpers/stackConfig";

// The docs' facts that can be checked against the code: a stale doc fails here.
const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
const DOCS = ["README.md", "app/README.md", ...fs.readdirSync(path.join(REPO_ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const scripts = Object.keys((JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-");

/** The first Markdown table after `heading`, as rows of cells. */
function tableAfter(text: string, heading: string): string[][] {
  const rest = text.slice(text.indexOf(heading));
  const lines = rest.split("\n").filter((l) => l.startsWith("|"));
  const start = rest.split("\n").findIndex((l) => l.startsWith("|"));
  const block: string[] = [];
  for (const line of rest.split("\n").slice(start)) {
    if (!line.startsWith("|")) break;
    block.push(line);
  }
  expect(lines.length).toBeGreaterThan(2);
  return block.slice(2).map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
}

describe("docs", () => {
  it("keep the README to the two commands, deploying in brief and where to read on", () => {
    const readme = read("README.md");
    expect(readme).toMatch(/^npm start\b/m);
    expect(readme).toMatch(/^npm test\b/m);
    expect(read(".ci/run")).toMatch(/^npm test$/m);
    expect(readme.split("\n").length).toBeLessThan(80);
  });

  it("carry the config reference generated from the schema", () => {
    const match = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(read("docs/configuration.md"));
    expect(match?.[1]).toBe(configReferenceTable());
  });

  it.each(DOCS)("%s names only npm scripts that exist", (file) => {
    const named = [...read(file).matchAll(/\bnpm (?:run (\w(?:[\w:-]*\w)?)|(start|test)\b)/g)].map((m) => m[1] ?? m[2]!);
    for (const script of named) expect(scripts, `${file}: npm ${script}`).toContain(script);
  });

  it.each(DOCS)("%s links only to files and headings that exist", (file) => {
    const text = read(file);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [filePart, anchor] = target!.split("#");
      const resolved = filePart ? path.resolve(REPO_ROOT, path.dirname(file), filePart) : path.join(REPO_ROOT, file);
      expect(resolved.startsWith(REPO_ROOT), `${file} -> ${target} leaves the repository`).toBe(true);
      expect(fs.existsSync(resolved), `${file} -> ${target}`).toBe(true);
      if (anchor && resolved.endsWith(".md")) {
        const headings = [...fs.readFileSync(resolved, "utf8").matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!));
        expect(headings, `${file} -> ${target}`).toContain(anchor);
      }
    }
  });

  it("list the service's routes, on each listener, exactly as app/src/api_routes.hpp declares them", () => {
    const source = read("app/src/api_routes.hpp");
    // {"GET", "/kv/{key}", Route::Kv} rows of kPublicRoutes and kProbeRoutes: {name} is a path parameter.
    const routes = (code: string) =>
      [...code.matchAll(/\{"(GET|PUT|POST|DELETE)", "([^"]+)", Route::\w+\}/g)].map((m) => `${m[1]} ${m[2]!.replace(/\{\w+\}/g, "{}")}`);
    const table = (name: string) => source.slice(source.indexOf(`RouteSpec ${name}[]`), source.indexOf("};", source.indexOf(`RouteSpec ${name}[]`)));
    const api = table("kPublicRoutes");
    const probe = table("kProbeRoutes");
    const registered = [...routes(api).map((r) => `public ${r}`), ...routes(probe).map((r) => `probe ${r}`)];
    expect(routes(api).length).toBeGreaterThan(2);
    expect(routes(probe).length).toBeGreaterThan(2);
    const documented = tableAfter(read("app/README.md"), "| listener | route |").map(
      (row) => `${row[0]} ${row[1]!.replace(/`/g, "").replace(/\{\w+\}/g, "{}")}`,
    );
    expect(documented.sort()).toEqual(registered.sort());
  });

  it("list every environment variable the service reads, and no other", () => {
    const documented = tableAfter(read("app/README.md"), "| variable |").flatMap((row) => [...row[0]!.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!));
    const sample = { sentinelHosts: "", sentinelPort: 0, masterName: "", aclUser: "", httpBind: "", httpPort: 0, probePort: 0, waitReplicas: 0, waitTimeoutMs: 0, requestTimeoutMs: 0, idempotencyKeepSeconds: 0, shutdownDrainSeconds: 0 };
    const contract = [...Object.keys(appVariables(sample)), ...Object.keys(APP_SECRET_VARIABLES), APP_TOKENS_VARIABLE, ...APP_DEFAULTED_VARIABLES];
    expect(documented.sort()).toEqual(contract.sort());
  });

  it("name the stack outputs the program exports", async () => {
    const documented = [...(/Stack outputs: (.+)/.exec(read("docs/architecture.md"))?.[1] ?? "").matchAll(/`(\w+)`/g)].map((m) => m[1]!);
    const rendered = await renderStack("dev");
    expect(documented.sort()).toEqual(Object.keys(rendered.module).sort());
  });
});
