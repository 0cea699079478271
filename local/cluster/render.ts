import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROLE_PASSWORD_KEYS } from "../../config/load";
import { ROLE_USERS } from "../../k8s/redis/acl";
import { Credentials } from "../../probe/connection";
import { rolePassword } from "../credentials";
import { clusterObjects, ClusterObjects } from "./objects";

const TSX = path.resolve(__dirname, "../../node_modules/.bin/tsx");

/** The stack's secrets as the local run knows them, in the program's config keys. */
export function localSecretConfig(creds: Credentials, apiToken: string): Record<string, string> {
  return {
    "redis-dr:redisPassword": creds.redisPassword,
    "redis-dr:sentinelPassword": creds.sentinelPassword,
    "redis-dr:apiTokens": apiToken,
    ...Object.fromEntries(ROLE_USERS.map((user) => [`redis-dr:${ROLE_PASSWORD_KEYS[user]}`, rolePassword(creds, user)])),
  };
}

/**
 * The Kubernetes objects the real program renders for a stack (index.ts under the tests'
 * mocks, in a child process), with the local credentials as the stack's secrets.
 */
export async function renderClusterObjects(stack: string, overrides: Record<string, string>, secrets: Record<string, string>): Promise<ClusterObjects> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-render-"));
  const out = path.join(dir, "resources.json");
  try {
    const child = spawn(TSX, [path.join(__dirname, "renderMain.ts"), out], { stdio: ["pipe", "inherit", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.stdin.end(JSON.stringify({ stack, overrides, secrets }));
    const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
    if (code !== 0) throw new Error(`rendering stack "${stack}" failed: ${stderr.trim()}`);
    return clusterObjects(JSON.parse(fs.readFileSync(out, "utf8")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
