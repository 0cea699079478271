import * as fs from "fs";
import * as path from "path";
import { StackConfig, toBytes } from "../../config/schema";
import { replicationBacklogBytes } from "../../config/replicationSchema";

/**
 * The stack config keys that shape the Redis pods (their config files, scripts and the
 * StatefulSet), and no others: what the Redis tier reads, in the cluster and locally.
 */
export const REDIS_SETTING_KEYS = [
  "namespace",
  "masterName",
  "redisReplicas",
  "redisImage",
  "redisCpu",
  "redisMemory",
  "sentinelCpu",
  "sentinelMemory",
  "volumeSize",
  "storageClass",
  "sentinelQuorum",
  "sentinelDownAfterMs",
  "sentinelFailoverTimeoutMs",
  "sentinelParallelSyncs",
  "minReplicasToWrite",
  "minReplicasMaxLagSeconds",
  "notReadyTolerationSeconds",
  "redisTerminationGraceSeconds",
  "monitoringNamespace",
  "redisExporterImage",
  "exporterCpu",
  "exporterMemory",
  "replicationPeakWriteBytesPerSecond",
  "replicationOutageSeconds",
  "replicationEndpoint",
] as const satisfies ReadonlyArray<keyof StackConfig>;
export type RedisSettings = Pick<StackConfig, (typeof REDIS_SETTING_KEYS)[number]>;

/** Exactly the Redis settings out of a whole stack config. */
export function redisSettings(cfg: RedisSettings): RedisSettings {
  return Object.fromEntries(REDIS_SETTING_KEYS.map((key) => [key, cfg[key]])) as RedisSettings;
}

/** Names shared by the StatefulSet, its Services and the pod scripts. */
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
/** Where a Redis pod serves TLS, only with a replication endpoint: the standby region's link. */
export const REPLICATION_TLS_PORT = 6380;
export const STATEFULSET_NAME = "redis";
export const HEADLESS_SERVICE_NAME = "redis-headless";
export const SENTINEL_SERVICE_NAME = "redis-sentinel";
export const SECRET_NAME = "redis-auth";
/** The Redis pods' certificate and key for the standby's link, and the CA it checks clients against. */
export const REPLICATION_TLS_SECRET_NAME = "redis-replication-tls";
/** The Redis pod's containers that run its scripts, by their names in the pod template (the exporters are the rest). */
export const REDIS_SCRIPT_CONTAINERS = { redis: "redis", sentinel: "sentinel", follower: "promotion-follower" } as const;
export type RedisScriptContainer = (typeof REDIS_SCRIPT_CONTAINERS)[keyof typeof REDIS_SCRIPT_CONTAINERS];
export const SECRET_KEYS = { redisPassword: "redis-password", sentinelPassword: "sentinel-password" } as const;
/** Keys of a Redis role user's passwords in that Secret: the list Redis accepts, and the one clients use. */
export function roleSecretKeys(user: string): { accepted: string; current: string } {
  return { accepted: `redis-${user}-passwords`, current: `redis-${user}-password` };
}
/** uid/gid of the `redis` user in the official Redis images. */
export const REDIS_UID = 999;
/** Mount points inside the Redis pod; the scripts get them through the environment. */
export const POD_PATHS = { data: "/data", config: "/config", scripts: "/scripts", runtime: "/run/redis", tls: "/tls" } as const;
/** The replication TLS Secret's keys, as the Redis pods mount them under POD_PATHS.tls. */
export const REPLICATION_TLS_FILES = { ca: "ca.crt", cert: "tls.crt", key: "tls.key" } as const;

export const SCRIPT_DIR = path.join(__dirname, "scripts");
/**
 * How often a master PINGs its replicas (Redis's default, stated because the archive relies on
 * it): the PING is in the replication stream, so an idle master's archive still moves this often.
 */
export const REPLICA_PING_PERIOD_SECONDS = 10;

export const SCRIPT_FILES = [
  "lib.sh",
  "start-redis.sh",
  "start-sentinel.sh",
  "follow-promotion.sh",
  "probe-redis.sh",
  "probe-sentinel.sh",
  "prestop-redis.sh",
  "switchover.sh",
  "backup.sh",
  "objectstore.sh",
  "scratch.sh",
  "seed.sh",
  "restore.sh",
  "archivestore.sh",
  "undo.sh",
  "archive.sh",
  "pushmetrics.sh",
  "archiveverify.sh",
  "prestop-sentinel.sh",
] as const;

/** The pod scripts exactly as they are in the repository. */
export function readScripts(): Record<string, string> {
  return Object.fromEntries(SCRIPT_FILES.map((name) => [name, fs.readFileSync(path.join(SCRIPT_DIR, name), "utf8")]));
}

/** maxmemory: 70% of the container limit, leaving room for fork copy-on-write and buffers. */
export function maxmemoryBytes(cfg: RedisSettings): number {
  return Math.floor(toBytes(cfg.redisMemory) * 0.7);
}

/** Static Redis settings; start-redis.sh includes this file and adds role, names and secrets. */
export function renderRedisConf(cfg: RedisSettings): string {
  return `# redis.conf rendered by redis-dr from the stack config; start-redis.sh includes it
# from a generated file that adds port, dir, announce names, passwords and replicaof.
bind * -::*
protected-mode yes
daemonize no
supervised no
loglevel notice
logfile ""
tcp-keepalive 60
timeout 0

# Durability: the AOF on the pod's volume survives restarts; a master that came
# back empty would wipe its replicas.
appendonly yes
appendfsync everysec
aof-use-rdb-preamble yes
save 3600 1 300 100 60 10000

# Memory: 70% of the ${cfg.redisMemory} container limit.
maxmemory ${maxmemoryBytes(cfg)}
maxmemory-policy noeviction

# Replication: bound the writes a master cut off from its replicas accepts.
min-replicas-to-write ${cfg.minReplicasToWrite}
min-replicas-max-lag ${cfg.minReplicasMaxLagSeconds}
replica-read-only yes
replica-serve-stale-data yes
repl-diskless-sync yes
${replicationBuffers(cfg)}
repl-timeout 60
repl-ping-replica-period ${REPLICA_PING_PERIOD_SECONDS}
replica-priority 100
${cfg.replicationEndpoint ? replicationTls() : ""}`;
}

/**
 * The backlog covers the peak stream for the longest outage to ride out (the stack config's
 * replicationPeakWriteBytesPerSecond x replicationOutageSeconds), so a replica back within it
 * resyncs partially. Since Redis 7.0 replicas' output buffers share the backlog's memory
 * (redis/redis #9166, "shared replication buffer"); the hard limit only has to let a replica
 * fall as far behind as the backlog reaches, as a replica further behind needs a full resync anyway.
 */
function replicationBuffers(cfg: RedisSettings): string {
  const backlog = replicationBacklogBytes(cfg);
  const hard = Math.max(256 * 1024 * 1024, backlog);
  const soft = Math.max(64 * 1024 * 1024, Math.floor(backlog / 2));
  return `repl-backlog-size ${backlog}\nclient-output-buffer-limit replica ${hard} ${soft} 60`;
}

/** TLS for the standby region's leader only (docs/standby.md); the pods replicate among themselves in plain TCP. */
function replicationTls(): string {
  const file = (name: string) => `${POD_PATHS.tls}/${name}`;
  return `
# The standby region's link (docs/standby.md): TLS on a port of its own, client certificates required.
tls-port ${REPLICATION_TLS_PORT}
tls-cert-file ${file(REPLICATION_TLS_FILES.cert)}
tls-key-file ${file(REPLICATION_TLS_FILES.key)}
tls-ca-cert-file ${file(REPLICATION_TLS_FILES.ca)}
tls-auth-clients yes
tls-protocols "TLSv1.2 TLSv1.3"
tls-replication no
`;
}

/** Sentinel template: start-sentinel.sh fills {{POD_FQDN}} and {{MASTER_HOST}} and appends port, id, epoch and secrets. */
export function renderSentinelTemplate(cfg: RedisSettings): string {
  return `# sentinel.conf template rendered by redis-dr. start-sentinel.sh copies it to the
# pod's volume (Sentinel rewrites its own config) and fills in the placeholders.
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip {{POD_FQDN}}
sentinel monitor ${cfg.masterName} {{MASTER_HOST}} ${REDIS_PORT} ${cfg.sentinelQuorum}
sentinel down-after-milliseconds ${cfg.masterName} ${cfg.sentinelDownAfterMs}
sentinel failover-timeout ${cfg.masterName} ${cfg.sentinelFailoverTimeoutMs}
sentinel parallel-syncs ${cfg.masterName} ${cfg.sentinelParallelSyncs}
`;
}

/** Stable DNS names of the Redis pods, in ordinal order. */
export function podFqdns(cfg: RedisSettings): string[] {
  return Array.from(
    { length: cfg.redisReplicas },
    (_, i) => `${STATEFULSET_NAME}-${i}.${HEADLESS_SERVICE_NAME}.${cfg.namespace}.svc.cluster.local`,
  );
}

/**
 * How long start-redis.sh may wait for an agreed master: long enough for Sentinel
 * to notice a dead master and promote a replica.
 */
export function discoveryTimeoutSeconds(cfg: RedisSettings): number {
  return Math.ceil((3 * cfg.sentinelDownAfterMs) / 1000) + 30;
}

/** preStop budget: the grace period less a margin for the kubelet's own SIGTERM. */
export function prestopTimeoutSeconds(cfg: RedisSettings): number {
  return Math.max(5, cfg.redisTerminationGraceSeconds - 10);
}
