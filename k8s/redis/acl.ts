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
  /**
   * The C++ service: its own keys and the commands it sends (WAIT for durable writes, ROLE to verify
   * a master, EVAL for an increment with an Idempotency-Key: app/src/scripts/idempotent_incr.lua).
   * Redis checks every command and key a script calls against the caller's ACL, so EVAL reaches
   * nothing the user could not already (what a script could still cost is CPU, bounded by
   * busy-reply-threshold). FCALL of a loaded function would be tighter, but every new master
   * would first have to be given the function.
   */
  app: { variable: "APP_PASSWORDS", rules: "resetchannels ~kv:* ~counter:* ~idempotency:* -@all +get +set +incr +eval +wait +ping +role" },
  /**
   * The continuous archive's follower (redis-dr-archiver): attached to a replica as a replica is
   * (PSYNC, REPLCONF, PING) and reading INFO replication to choose one; no key, no channel.
   */
  archiver: { variable: "ARCHIVER_PASSWORDS", rules: "resetchannels -@all +psync +replconf +ping +info" },
  /**
   * A standby region's leader, through the replication endpoint (docs/standby.md): a replica's
   * link (PSYNC, REPLCONF, PING), with a password of its own so a standby can be cut off without
   * touching the region's own replicas. It arrives only over TLS with a client certificate.
   */
  standby: { variable: "STANDBY_PASSWORDS", rules: "resetchannels -@all +psync +replconf +ping" },
  /**
   * The replication endpoint's relay (redis-dr-relay) asks Sentinel for the master and passes
   * TLS through: on Redis it may run nothing at all (AUTH is always allowed). It is a Redis user
   * only because Sentinel's users take their passwords from this list (SENTINEL_ACL_USERS).
   */
  relay: { variable: "RELAY_PASSWORDS", rules: "resetchannels -@all" },
  /** The exporters: read-only statistics. */
  monitor: {
    variable: "MONITOR_PASSWORDS",
    rules: "resetchannels -@all +ping +info +client|list +client|info +cluster|info +slowlog|get +slowlog|len +latency|latest +latency|histogram +memory|stats +select +dbsize",
  },
} as const;

export type AclUser = keyof typeof ACL_USERS;

/** The users whose passwords the program generates besides the admin's (REDIS_PASSWORD, redis-password). */
export const ROLE_USERS = ["replication", "sentinel", "app", "monitor", "archiver", "standby", "relay"] as const satisfies ReadonlyArray<AclUser>;
export type RoleUser = (typeof ROLE_USERS)[number];

/**
 * Sentinel's users besides its default one. The default user (requirepass, `sentinelPassword`)
 * is the Sentinels' own (they authenticate to each other with it: sentinel-pass) and the pod
 * scripts' and operators' (SENTINEL FAILOVER in a switchover). No client outside the Redis pods
 * holds it: each authenticates with the password it already has for Redis, as a Sentinel user
 * that may look the master up and read, never SENTINEL SET, MONITOR, REMOVE, RESET, FAILOVER,
 * CONFIG or ACL. Sentinel reads `user` lines from its config file and runs ACLs on its own
 * command table (src/sentinel.c, src/config.c in redis/redis; "Sentinel and ACL" since 6.2).
 */
export const SENTINEL_ACL_USERS = {
  /** The C++ service: master and replica lookups, and the failover events (channels + and -), not the hello channel. */
  app: { variable: "APP_PASSWORDS", rules: "resetchannels &+* &-* -@all +ping +sentinel|master +sentinel|replicas +sentinel|get-master-addr-by-name +subscribe" },
  /**
   * The sentinel-exporter (redis_exporter exporter.go and sentinels.go): PING, CLIENT SETNAME, INFO,
   * SENTINEL MASTERS, CKQUORUM, SENTINELS and SLAVES; not SENTINEL CONFIG GET, which answers sentinel-pass.
   */
  monitor: {
    variable: "MONITOR_PASSWORDS",
    rules: "resetchannels -@all +ping +info +client|setname +sentinel|masters +sentinel|master +sentinel|ckquorum +sentinel|sentinels +sentinel|slaves +sentinel|replicas",
  },
  /** The replication endpoint's relay: master lookups and the failover events, as the service has them. */
  relay: { variable: "RELAY_PASSWORDS", rules: "resetchannels &+* &-* -@all +ping +sentinel|master +sentinel|replicas +sentinel|get-master-addr-by-name +subscribe" },
  /** The backup job, which is Redis's admin already: it finds the master and the replicas' state (lib.sh). */
  backup: { variable: "REDIS_PASSWORD", rules: "resetchannels -@all +ping +sentinel|get-master-addr-by-name +sentinel|master" },
} as const;

export type SentinelAclUser = keyof typeof SENTINEL_ACL_USERS;

/** A users file as lib.sh's acl_user_lines reads it: NAME VARIABLE RULES per line. */
function renderUsersFile(title: string, users: Record<string, { variable: string; rules: string }>): string {
  const lines = Object.entries(users).map(([name, user]) => `${name} ${user.variable} ${user.rules}`);
  return `# ${title} rendered by redis-dr (k8s/redis/acl.ts): NAME VARIABLE RULES.\n${lines.join("\n")}\n`;
}

/** users.acl, as start-redis.sh reads it. */
export function renderAclUsers(): string {
  return renderUsersFile("Redis users", ACL_USERS);
}

/** sentinel-users.acl, as start-sentinel.sh reads it. */
export function renderSentinelAclUsers(): string {
  return renderUsersFile("Sentinel users", SENTINEL_ACL_USERS);
}

/** The password a client uses out of a list a server accepts (comma-separated). */
export function firstPassword(list: string): string {
  return list.split(",")[0]!;
}
