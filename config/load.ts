import { z } from "zod";
import { schemaInfo } from "./schemaInfo";
import { API_TOKEN_PATTERN, PASSWORD_PATTERN, ROLE_PASSWORD_PATTERN, StackConfig, StackConfigKey, stackConfigSchema, stackConfigShape } from "./schema";

export const CONFIG_NAMESPACE = "redis-dr";

/**
 * The passwords of Redis's role users (k8s/redis/acl.ts), each a comma-separated list: clients
 * use the first, Redis accepts every one, so a rotation never breaks a link midway.
 */
export const ROLE_PASSWORD_KEYS = {
  replication: "replicationPasswords",
  sentinel: "sentinelUserPasswords",
  app: "appRedisPasswords",
  monitor: "monitorPasswords",
  archiver: "archiverPasswords",
  standby: "standbyPasswords",
  relay: "relayPasswords",
} as const;

/** Keys that are read as secrets and never pass through the typed object. */
export const SECRET_KEYS = ["redisPassword", "sentinelPassword", "apiTokens", ...Object.values(ROLE_PASSWORD_KEYS)] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/** Why a secret value is refused (never showing it), or undefined when it is fine. */
function secretProblem(key: SecretKey, value: string): string | undefined {
  if ((Object.values(ROLE_PASSWORD_KEYS) as string[]).includes(key)) {
    const bad = value.split(",").findIndex((password) => !ROLE_PASSWORD_PATTERN.test(password));
    return bad < 0
      ? undefined
      : `${CONFIG_NAMESPACE}:${key}: password ${bad + 1} must be 16-128 characters of letters, digits and !#%+-./:=@^_~ (the value is not shown); fix: pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <password>[,<password>...], or remove it to have one generated`;
  }
  if (key === "apiTokens") {
    const bad = value.split(",").findIndex((token) => !API_TOKEN_PATTERN.test(token));
    return bad < 0
      ? undefined
      : `${CONFIG_NAMESPACE}:${key}: token ${bad + 1} must be 32-128 characters of letters, digits and -._~+/ (the value is not shown); fix: pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <token>[,<token>...], or remove it to have one generated`;
  }
  // The admin's password is written into users.acl by the same code that splits the role
  // users' lists on commas (lib.sh acl_user_lines): it may not hold one.
  if (key === "redisPassword") {
    return ROLE_PASSWORD_PATTERN.test(value)
      ? undefined
      : `${CONFIG_NAMESPACE}:${key}: must be 16-128 characters of letters, digits and !#%+-./:=@^_~, no comma (the value is not shown); fix: pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <password>, or remove it to have one generated`;
  }
  return PASSWORD_PATTERN.test(value)
    ? undefined
    : `${CONFIG_NAMESPACE}:${key}: must be 16-128 characters of letters, digits and !#%+,-./:=@^_~ (the value is not shown); fix: pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <password>, or remove it to have one generated`;
}

export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stack config (nothing was created):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "StackConfigError";
  }
}

/** Turn Pulumi's string config values into the JSON types the schema expects. */
function decodeValue(key: string, raw: string): unknown {
  const schema = (stackConfigShape as Record<string, z.ZodType>)[key];
  if (!schema) return raw;
  const type = schemaInfo(schema).baseType;
  if (type === "number") {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
  }
  if (type === "boolean") {
    return raw === "true" ? true : raw === "false" ? false : raw;
  }
  if (type === "array" || type === "object") {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * Stack names become part of Linode labels (`redis-dr-<stack>-app-fw`): LKE cluster labels
 * allow only letters, digits and - (the API rejects `_` at create time), and every label is
 * at most 32 characters, so a stack name is at most 16.
 */
export const STACK_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,14}[A-Za-z0-9])?$/;

export function validateStackName(stack: string): void {
  if (!STACK_NAME_PATTERN.test(stack)) {
    throw new StackConfigError([
      `stack name "${stack}": must be 1-16 letters, digits and - (not starting or ending with -), because it becomes part of the LKE cluster and firewall labels; fix: pulumi stack init <name> with such a name`,
    ]);
  }
}

function fixHint(key: string): string {
  return `fix: pulumi config set ${CONFIG_NAMESPACE}:${key} <value> (see docs/configuration.md)`;
}

/**
 * Validate a stack's raw config (Pulumi's `namespace:key -> string` map) into the typed StackConfig.
 * Throws one StackConfigError listing every problem, each naming its key and the fix.
 */
export function parseStackConfig(raw: Record<string, string>): StackConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(raw)) {
    const [namespace, key] = fullKey.includes(":") ? fullKey.split(":", 2) : [CONFIG_NAMESPACE, fullKey];
    if (namespace !== CONFIG_NAMESPACE || key === undefined) continue;
    if ((SECRET_KEYS as readonly string[]).includes(key)) {
      const problem = secretProblem(key as SecretKey, value);
      if (problem) problems.push(problem);
      continue;
    }
    if (!(key in stackConfigShape)) {
      const known = Object.keys(stackConfigShape).join(", ");
      problems.push(`${CONFIG_NAMESPACE}:${key}: unknown key; fix: remove it (pulumi config rm ${CONFIG_NAMESPACE}:${key}) or use one of: ${known}`);
      continue;
    }
    values[key] = decodeValue(key, value);
  }
  const result = stackConfigSchema.safeParse(values);
  if (result.success && problems.length === 0) return result.data;
  const reported = new Set<string>();
  for (const issue of result.error?.issues ?? []) {
    const key = String(issue.path[0] ?? "");
    // One message per key: the first is the most basic; fixing it reveals any other.
    if (reported.has(key)) continue;
    reported.add(key);
    const message = issue.code === "invalid_type" && values[key] === undefined ? "is required" : issue.message;
    problems.push(`${CONFIG_NAMESPACE}:${key}: ${message}; ${fixHint(key)}`);
  }
  throw new StackConfigError(problems);
}

export type { StackConfig, StackConfigKey };
