import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { configReferenceTable } from "../scripts/configReference";
import { REPO_ROOT } from "./helpers/stackConfig";

const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

describe("README", () => {
  it("carries the config reference generated from the schema", () => {
    const match = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    expect(match?.[1]).toBe(configReferenceTable());
  });

  it("names the test command that .ci/run calls", () => {
    expect(readme).toMatch(/^npm test\b/m);
    expect(fs.readFileSync(path.join(REPO_ROOT, ".ci/run"), "utf8")).toMatch(/^npm test$/m);
  });
});
