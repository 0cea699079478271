import Redis from "ioredis";

/** The passwords a probe authenticates with: Redis's and Sentinel's. */
export interface Credentials {
  redisPassword: string;
  sentinelPassword: string;
}

/** One connection for one probe, closed afterwards. Never retries on its own. */
export async function withConnection<T>(
  host: string,
  port: number,
  password: string,
  fn: (client: Redis) => Promise<T>,
  timeoutMs = 1000,
): Promise<T> {
  const client = new Redis({
    host,
    port,
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
