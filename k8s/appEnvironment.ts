/**
 * The C++ service's environment contract (app/src/service_config.cpp, parseServiceConfig),
 * declared once: the Deployment and the local service runner both build their environment
 * from it, and test/appEnvironment.test.ts checks it against the names the binary reads.
 */

/**
 * Values the service is given in every deployment; the rest keep the binary's defaults.
 * `Host` is how the Sentinel names are known: a string locally, a Pulumi output in the program.
 */
export interface AppEnvironment<Host = string> {
  /** Comma-separated Sentinel host names or addresses. */
  sentinelHosts: Host;
  sentinelPort: number;
  masterName: string;
  /** The ACL user the service authenticates as, on Redis and on Sentinel alike (the `app` user of k8s/redis/acl.ts). */
  aclUser: string;
  httpPort: number;
  /** The listener of /healthz, /readyz and /metrics. */
  probePort: number;
  /** Listen address; the binary's default (all interfaces) serves a pod. */
  httpBind?: string;
  waitReplicas: number;
  waitTimeoutMs: number;
  requestTimeoutMs: number;
  /** How long the outcome of an increment sent with an Idempotency-Key is kept. */
  idempotencyKeepSeconds: number;
  shutdownDrainSeconds: number;
}

/** Variables that carry a secret, and which password each is. */
export const APP_SECRET_VARIABLES = { REDIS_PASSWORD: "appPassword", SENTINEL_PASSWORD: "appPassword" } as const;

/** The public API's bearer tokens, comma-separated (a secret too; several during a rotation). */
export const APP_TOKENS_VARIABLE = "API_TOKENS";

/** Names the binary also reads, left at its defaults here (timeouts, limits, readiness hysteresis). */
export const APP_DEFAULTED_VARIABLES = [
  "HTTP_IO_THREADS",
  "HTTP_THREADS",
  "HTTP_QUEUE_DEPTH",
  "HTTP_MAX_CONNECTIONS",
  "HTTP_READ_TIMEOUT_MS",
  "HTTP_MAX_HEADER_BYTES",
  "HTTP_MAX_HEADER_COUNT",
  "HTTP_MAX_URL_BYTES",
  "HTTP_BODY_BUFFER_BYTES",
  "REDIS_PIPELINE_CONNECTIONS",
  "SENTINEL_TIMEOUT_MS",
  "REDIS_CONNECT_TIMEOUT_MS",
  "REDIS_COMMAND_TIMEOUT_MS",
  "MAX_KEY_BYTES",
  "MAX_VALUE_BYTES",
  "READY_CHECK_INTERVAL_MS",
  "READY_FAILURE_THRESHOLD",
  "READY_SUCCESS_THRESHOLD",
] as const;

/** The non-secret variables, as the service reads them. */
export function appVariables<Host = string>(env: AppEnvironment<Host>): Record<string, string | Host> {
  return {
    SENTINEL_HOST: env.sentinelHosts,
    SENTINEL_PORT: String(env.sentinelPort),
    REDIS_MASTER_NAME: env.masterName,
    REDIS_USERNAME: env.aclUser,
    SENTINEL_USERNAME: env.aclUser,
    ...(env.httpBind !== undefined ? { HTTP_BIND: env.httpBind } : {}),
    HTTP_PORT: String(env.httpPort),
    PROBE_PORT: String(env.probePort),
    REDIS_WAIT_REPLICAS: String(env.waitReplicas),
    REDIS_WAIT_TIMEOUT_MS: String(env.waitTimeoutMs),
    REDIS_REQUEST_TIMEOUT_MS: String(env.requestTimeoutMs),
    IDEMPOTENCY_KEEP_SECONDS: String(env.idempotencyKeepSeconds),
    SHUTDOWN_DRAIN_SECONDS: String(env.shutdownDrainSeconds),
  };
}
