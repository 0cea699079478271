import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseStackConfig, StackConfig } from "./load";

const REPO_ROOT = path.resolve(__dirname, "..");

/**
 * A stack file's config as Pulumi hands it to the program: `ns:key -> string`,
 * structured values as JSON. Lets local tools and tests validate a stack exactly
 * as `pulumi up` would, without the Pulumi CLI.
 */
export function rawStackConfig(stack: string): Record<string, string> {
  const file = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}; stacks: dev, prod`);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(doc.config ?? {}).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}

export function stackFileConfig(stack: string, overrides: Record<string, string> = {}): StackConfig {
  return parseStackConfig({ ...rawStackConfig(stack), ...overrides });
}
