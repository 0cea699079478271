import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Credentials } from "../probe/connection";
import { RoleUser } from "../k8s/redis/acl";
import { PodPassword } from "../k8s/redis/podEnvironment";

/** A secret generated once per topology directory, kept in a 0600 file beside its data. */
function localSecret(baseDir: string, name: string): string {
  const file = path.join(baseDir, name);
  if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(24).toString("hex"), { mode: 0o600 });
  return fs.readFileSync(file, "utf8").trim();
}

/** Local Redis and Sentinel passwords. */
export function localCredentials(baseDir: string): Credentials {
  return { redisPassword: localSecret(baseDir, "redis-password"), sentinelPassword: localSecret(baseDir, "sentinel-password") };
}

/**
 * A Redis role user's local password (k8s/redis/acl.ts), derived from the topology's admin
 * password so that every local process that needs it agrees without another file.
 */
export function rolePassword(creds: Credentials, user: RoleUser): string {
  return crypto.createHash("sha256").update(`${creds.redisPassword}:${user}`).digest("hex").slice(0, 40);
}

/** The local value of a password a Redis pod variable carries (k8s/redis/podEnvironment.ts). */
export function podPassword(creds: Credentials, password: PodPassword): string {
  return password === "redisPassword" || password === "sentinelPassword" ? creds[password] : rolePassword(creds, password);
}

/** The local service's API bearer token (48 hex characters), in `<baseDir>/api-token`. */
export const API_TOKEN_FILE = "api-token";
export function localApiToken(baseDir: string): string {
  return localSecret(baseDir, API_TOKEN_FILE);
}
