/**
 * The environment contract of the Redis pod scripts (k8s/redis/scripts/lib.sh), declared once:
 * the StatefulSet's containers, the restore init container, the backup CronJob and the local
 * runtimes all build theirs from it; test/redisPodEnvironment.test.ts checks it against what the
 * scripts read and what each of those sets.
 */
import { ACL_USERS, ROLE_USERS, RoleUser, SentinelAclUser } from "./acl";
import { discoveryTimeoutSeconds, podFqdns, POD_PATHS, prestopTimeoutSeconds, REDIS_PORT, RedisSettings, roleSecretKeys, SECRET_KEYS, SENTINEL_PORT } from "./render";

/** The pod's own stable name, as its peers resolve it: a fieldRef-built FQDN in the cluster, an address locally. */
export const POD_NAME_VARIABLE = "POD_FQDN";

/**
 * Which password a variable carries: the admin user's (`redisPassword`), the Sentinels' own
 * (`sentinelPassword`), or the accepted list of one Redis role user (k8s/redis/acl.ts).
 */
export type PodPassword = keyof typeof SECRET_KEYS | RoleUser;

/** Every secret variable of a Redis pod container, and the password it carries. */
export const REDIS_POD_SECRET_VARIABLES: Readonly<Record<string, PodPassword>> = {
  REDIS_PASSWORD: "redisPassword",
  SENTINEL_PASSWORD: "sentinelPassword",
  ...Object.fromEntries(ROLE_USERS.map((user) => [ACL_USERS[user].variable, user])),
};

/**
 * The backup job's: it reads and restores as Redis's admin user, and finds the master through
 * Sentinel as the Sentinel user `backup`, whose password is the admin's (SENTINEL_ACL_USERS):
 * it never holds the Sentinels' own password.
 */
export const BACKUP_SECRET_VARIABLES: Readonly<Record<string, PodPassword>> = {
  REDIS_PASSWORD: "redisPassword",
  SENTINEL_PASSWORD: "redisPassword",
};

/** The backup job's non-secret identity: its Sentinel user. */
export const BACKUP_IDENTITY_VARIABLES: Readonly<Record<string, string>> = { SENTINEL_USERNAME: "backup" satisfies SentinelAclUser };

/** The key of the redis-auth Secret that holds a password. */
export function podPasswordSecretKey(password: PodPassword): string {
  return password === "redisPassword" || password === "sentinelPassword" ? SECRET_KEYS[password] : roleSecretKeys(password).accepted;
}

/** Where a pod's files are: the StatefulSet's mounts, or a local pod's own directories. */
export interface RedisPodPaths {
  dataDir: string;
  configDir: string;
  runtimeDir: string;
}
export const CLUSTER_POD_PATHS: RedisPodPaths = { dataDir: POD_PATHS.data, configDir: POD_PATHS.config, runtimeDir: POD_PATHS.runtime };

/**
 * What every script reads wherever it runs (a Redis pod or the backup job), independent of
 * where that is: NODES are the Redis pods' stable names, FQDNs by default.
 */
export function scriptEnvironment(cfg: RedisSettings, nodes: string[] = podFqdns(cfg)): Record<string, string> {
  return {
    REDIS_NODES: nodes.join(" "),
    REDIS_PORT: String(REDIS_PORT),
    SENTINEL_PORT: String(SENTINEL_PORT),
    MASTER_NAME: cfg.masterName,
    DISCOVERY_TIMEOUT_SECONDS: String(discoveryTimeoutSeconds(cfg)),
    PRESTOP_TIMEOUT_SECONDS: String(prestopTimeoutSeconds(cfg)),
  };
}

/** The non-secret variables of a Redis pod container, but its name (POD_NAME_VARIABLE). */
export function redisPodVariables(cfg: RedisSettings, paths: RedisPodPaths = CLUSTER_POD_PATHS, nodes?: string[]): Record<string, string> {
  return { ...scriptEnvironment(cfg, nodes), DATA_DIR: paths.dataDir, CONFIG_DIR: paths.configDir, RUNTIME_DIR: paths.runtimeDir };
}

/** Which backup `backup.sh seed` loads into an empty deployment, and whether it may take a suspect one. */
export interface SeedChoice {
  /** latest (the newest verified backup that is not suspect) or a backup id. */
  backup: string;
  allowSuspect?: boolean;
  /**
   * Seed the state at this time instead (RFC 3339, or latest: the newest archived write): the
   * newest trusted backup before it and the continuous archive replayed onto it.
   */
  at?: string;
  /** With `at`: the archived units to leave out of the replay, by the offsets `backup log` prints (a bad write undone). */
  skip?: number[];
  /** With `at`: replay across gaps the archiver recorded (full resyncs), whose writes are then missing. */
  allowGap?: boolean;
}

export function seedVariables(choice: SeedChoice): Record<string, string> {
  return {
    RESTORE_BACKUP: choice.backup,
    ALLOW_SUSPECT: choice.allowSuspect ? "1" : "0",
    ...(choice.at ? { RESTORE_AT: choice.at } : {}),
    ...(choice.skip?.length ? { RESTORE_SKIP: choice.skip.join(",") } : {}),
    ...(choice.allowGap ? { RESTORE_ALLOW_GAP: "1" } : {}),
  };
}
