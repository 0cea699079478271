import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseStackConfig, StackConfig } from "../../config/load";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export type StackName = "dev" | "prod";

/** A stack file's config as Pulumi hands it to the program: `ns:key -> string` (structured values as JSON). */
export function rawStackConfig(stack: StackName): Record<string, string> {
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  return Object.fromEntries(
    Object.entries(doc.config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}

export function stackConfig(stack: StackName, overrides: Record<string, string> = {}): StackConfig {
  return parseStackConfig({ ...rawStackConfig(stack), ...overrides });
}
