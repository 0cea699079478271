import * as fs from "fs";
import { ROLE_USERS } from "../../k8s/redis/acl";
import { Credentials } from "../../probe/connection";
import { rolePassword } from "../credentials";

/** How often a drill scans every process's argv for a secret. */
export const ARGV_SCAN_MS = 50;

/** A drill's violations for the command lines watchArgv caught. */
export function argvViolations(exposed: string[]): string[] {
  return exposed.map((line) => `a secret in a process's argv: ${line}`);
}

/** Every secret a local topology's processes hold: passwords of each user, the API token. */
export function topologySecrets(creds: Credentials, apiToken: string): string[] {
  return [creds.redisPassword, creds.sentinelPassword, ...ROLE_USERS.map((user) => rolePassword(creds, user)), apiToken];
}

/** The processes running now whose command line holds one of SECRETS, the secret masked. */
export function processesShowing(secrets: string[]): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let argv: string;
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    } catch {
      continue; // exited meanwhile
    }
    const shown = secrets.filter((secret) => argv.includes(secret));
    if (shown.length > 0) found.push(shown.reduce((text, secret) => text.split(secret).join("<secret>"), argv).slice(0, 200));
  }
  return found;
}

/**
 * Scans every process's argv (readable by any user of the node through /proc) every EVERY_MS
 * until the returned function is called, which returns each offending command line once. A
 * process that lives shorter than the interval can slip through: a miss, never a false alarm.
 */
export function watchArgv(secrets: string[], everyMs = 20): () => string[] {
  const seen = new Set<string>();
  const timer = setInterval(() => {
    for (const line of processesShowing(secrets)) seen.add(line);
  }, everyMs);
  return () => {
    clearInterval(timer);
    for (const line of processesShowing(secrets)) seen.add(line);
    return [...seen];
  };
}
