import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/stackConfig";
import { LONGEST_FIRST } from "./helpers/suiteOrder";

// docs/architecture.md against the tree: every suite, every doc, and what ops/ imports from local/.
const architecture = fs.readFileSync(path.join(REPO_ROOT, "docs/architecture.md"), "utf8");
const filesIn = (dir: string, suffix: string) => fs.readdirSync(path.join(REPO_ROOT, dir)).filter((f) => f.endsWith(suffix));

describe("docs/architecture.md", () => {
  it("describes every vitest suite", () => {
    const missing = filesIn("test", ".test.ts").filter((suite) => !architecture.includes(`\`test/${suite}\``));
    expect(missing).toEqual([]);
  });

  it("lists every doc in its layout", () => {
    const docsLine = architecture.split("\n").find((line) => line.startsWith("docs/ "))!;
    expect(filesIn("docs", ".md").filter((doc) => !docsLine.includes(doc))).toEqual([]);
  });

  it("names exactly the local/ modules ops/ imports", () => {
    const imported = new Set<string>();
    for (const file of filesIn("ops", ".ts")) {
      const text = fs.readFileSync(path.join(REPO_ROOT, "ops", file), "utf8");
      for (const match of text.matchAll(/from "\.\.\/(local\/[^"]+)"/g)) imported.add(`${match[1]}.ts`);
    }
    const opsLine = architecture.split("\n").find((line) => line.startsWith("ops/ "))!;
    const named = new Set(opsLine.match(/local\/[\w/]+\.ts/g) ?? []);
    expect([...named].sort()).toEqual([...imported].sort());
  });
});

describe("vitest's order", () => {
  it("starts suites that exist: a renamed one would silently lose its early start", () => {
    expect(LONGEST_FIRST.filter((suite) => !fs.existsSync(path.join(REPO_ROOT, "test", suite)))).toEqual([]);
  });
});
