import * as path from "path";
import { parseStackConfig } from "../../config/load";
import { rawStackConfig } from "../../config/stackFile";

export { rawStackConfig, stackFileConfig as stackConfig } from "../../config/stackFile";
export const REPO_ROOT = path.resolve(__dirname, "../..");
export type StackName = "dev" | "prod";

/** A stack file's config with KEYS removed (as if never set) and OVERRIDES applied, validated. */
export function stackConfigWithout(stack: StackName, keys: string[], overrides: Record<string, string> = {}) {
  const raw = Object.entries({ ...rawStackConfig(stack), ...overrides }).filter(([key]) => !keys.includes(key));
  return parseStackConfig(Object.fromEntries(raw));
}
