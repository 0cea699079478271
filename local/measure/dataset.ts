import { REDIS_PORT } from "../../k8s/redis/render";
import { withConnection } from "../../probe/connection";
import { waitFor } from "../../probe/wait";

/** Bytes of each value fill writes. */
export const FILL_VALUE_BYTES = 100;

/**
 * Keys kv:bench-1..n of 100-byte values, written by the master itself in scripts of 50k SETs
 * (no client round trips). Each generation writes other values to the same keys.
 */
export async function fill(host: string, password: string, n: number, generation = 0): Promise<void> {
  await withConnection(
    host,
    REDIS_PORT,
    password,
    async (c) => {
      for (let from = 1; from <= n; from += 50_000) {
        const to = Math.min(n, from + 49_999);
        // Hex digests, not a repeated byte: values must not compress away in the RDB.
        const batch = () =>
          c.eval(
            "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do local h = redis.sha1hex(ARGV[4] .. ':' .. i) redis.call('SET', 'kv:bench-' .. i, string.sub(h .. redis.sha1hex(h) .. redis.sha1hex(h .. i), 1, tonumber(ARGV[3]))) end return 1",
            0,
            from,
            to,
            FILL_VALUE_BYTES,
            generation,
          );
        // Faster than the replicas apply it, the master refuses writes (min-replicas-max-lag)
        // until they catch up: wait as any client must, then write the same batch again.
        for (let attempt = 1; ; attempt++) {
          try {
            await batch();
            break;
          } catch (error) {
            if (!/^NOREPLICAS/.test((error as Error).message) || attempt >= 120) throw error;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }
    },
    300_000,
  );
}

/** Until every pod of the topology holds exactly n keys (replicas synced, or a seed loaded). */
export async function everyPodHolds(hosts: string[], password: string, n: number, timeoutMs = 300_000): Promise<void> {
  const sizes = () => Promise.all(hosts.map((host) => withConnection(host, REDIS_PORT, password, (c) => c.dbsize(), 5000).catch(() => -1)));
  await waitFor(`every pod to hold ${n} keys`, async () => (await sizes()).every((size) => size === n), timeoutMs, 100);
}
