import Redis from "ioredis";
import { SENTINEL_PORT } from "../k8s/redis/render";

/** The Redis user probes, drills and ops act as (k8s/redis/acl.ts): Redis's default user is off. */
export const ADMIN_USER = "admin";

/** The passwords a probe authenticates with: Redis's and Sentinel's. */
export interface Credentials {
  redisPassword: string;
  sentinelPassword: string;
}

/**
 * One connection for one probe, closed afterwards. Never retries on its own. Redis is reached as
 * ADMIN_USER unless USERNAME says otherwise; a Sentinel (SENTINEL_PORT) has one password and no users.
 */
export async function withConnection<T>(
  host: string,
  port: number,
  password: string,
  fn: (client: Redis) => Promise<T>,
  timeoutMs = 1000,
  username: string | undefined = port === SENTINEL_PORT ? undefined : ADMIN_USER,
): Promise<T> {
  const client = new Redis({
    host,
    port,
    ...(username ? { username } : {}),
    password,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}
