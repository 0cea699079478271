/**
 * Redis's users, one per role, each allowed only what that role does; the default user is off.
 * The ConfigMap carries them as users.acl ("NAME VARIABLE RULES" per line); start-redis.sh adds
 * every password listed in VARIABLE (from the Secret). Clients use the first password of a list
 * and servers accept all of them, so a password is rotated in steps without a broken link.
 *
 * Rules: the replica and Sentinel users as in Redis's ACL guide ("ACL rules for Sentinel and
 * Replicas", https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/); the
 * monitor user as in redis_exporter's README ("dedicated Redis user") without the key-reading
 * commands its check-keys option needs, which the exporters here do not use, and without
 * CONFIG GET, which answers masterauth (the replication password) and every other setting:
 * the exporters skip their config metrics (exporterSettings, k8s/redis/exporters.ts).
 */
export const ACL_USERS = {
  /** The pod scripts, backups and operators. */
  admin: { variable: "REDIS_PASSWORD", rules: "~* &* +@all" },
  /** Replicas' link to their master (masteruser). */
  replication: { variable: "REPLICATION_PASSWORDS", rules: "resetchannels -@all +psync +replconf +ping" },
  /** Sentinel's monitoring, failover and hello messages (sentinel auth-user). */
  sentinel: {
    variable: "SENTINEL_USER_PASSWORDS",
    rules: "allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill",
  },
  /** The C++ service: its own keys and the commands it sends (WAIT for durable writes, ROLE to verify a master). */
  app: { variable: "APP_PASSWORDS", rules: "resetchannels ~kv:* ~counter:* -@all +get +set +incr +wait +ping +role" },
  /** The exporters: read-only statistics. */
  monitor: {
    variable: "MONITOR_PASSWORDS",
    rules: "resetchannels -@all +ping +info +client|list +client|info +cluster|info +slowlog|get +slowlog|len +latency|latest +latency|histogram +memory|stats +select +dbsize",
  },
} as const;

export type AclUser = keyof typeof ACL_USERS;

/** The users whose passwords the program generates besides the admin's (REDIS_PASSWORD, redis-password). */
export const ROLE_USERS = ["replication", "sentinel", "app", "monitor"] as const satisfies ReadonlyArray<AclUser>;
export type RoleUser = (typeof ROLE_USERS)[number];

/** users.acl, as start-redis.sh reads it. */
export function renderAclUsers(): string {
  const lines = Object.entries(ACL_USERS).map(([name, user]) => `${name} ${user.variable} ${user.rules}`);
  return `# Redis users rendered by redis-dr (k8s/redis/acl.ts): NAME VARIABLE RULES.\n${lines.join("\n")}\n`;
}

/** The password a client uses out of a list a server accepts (comma-separated). */
export function firstPassword(list: string): string {
  return list.split(",")[0]!;
}
