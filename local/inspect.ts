import Redis from "ioredis";

/** One-shot connections to the local topology, for tests and drills. Never retries on its own. */
export interface Credentials {
  redisPassword: string;
  sentinelPassword: string;
}

export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;

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

export type Role = { role: "master"; replicas: string[] } | { role: "slave"; master: string; state: string } | { role: "down" };

export async function roleOf(host: string, creds: Credentials): Promise<Role> {
  try {
    const reply = (await withConnection(host, REDIS_PORT, creds.redisPassword, (c) => c.call("ROLE"))) as unknown[];
    if (reply[0] === "master") return { role: "master", replicas: (reply[2] as string[][]).map((r) => r[0]!) };
    return { role: "slave", master: String(reply[1]), state: String(reply[3]) };
  } catch {
    return { role: "down" };
  }
}

/** The master a Sentinel names, or undefined if it does not answer. */
export async function sentinelMaster(host: string, masterName: string, creds: Credentials): Promise<string | undefined> {
  try {
    const reply = (await withConnection(host, SENTINEL_PORT, creds.sentinelPassword, (c) =>
      c.call("SENTINEL", "get-master-addr-by-name", masterName),
    )) as string[] | null;
    return reply ? reply[0] : undefined;
  } catch {
    return undefined;
  }
}

/** What one Sentinel knows: the master it names, and how many healthy replicas and peers it sees. */
export interface SentinelKnowledge {
  master?: string;
  replicas: number;
  sentinels: number;
}

export async function sentinelKnowledge(host: string, masterName: string, creds: Credentials): Promise<SentinelKnowledge> {
  try {
    return await withConnection(host, SENTINEL_PORT, creds.sentinelPassword, async (c) => {
      const address = (await c.call("SENTINEL", "get-master-addr-by-name", masterName)) as string[] | null;
      const replicas = (await c.call("SENTINEL", "REPLICAS", masterName)) as string[][];
      const sentinels = (await c.call("SENTINEL", "SENTINELS", masterName)) as string[][];
      const healthy = (fields: string[]) => {
        const flags = fields[fields.indexOf("flags") + 1] ?? "";
        return !/s_down|o_down|disconnected/.test(flags);
      };
      return {
        ...(address ? { master: address[0] } : {}),
        replicas: replicas.filter(healthy).length,
        sentinels: sentinels.filter(healthy).length,
      };
    });
  } catch {
    return { replicas: 0, sentinels: 0 };
  }
}

export interface ClusterView {
  roles: Record<string, Role>;
  masters: string[];
  sentinelVotes: Record<string, string | undefined>;
  sentinels: Record<string, SentinelKnowledge>;
}

export async function clusterView(hosts: string[], masterName: string, creds: Credentials): Promise<ClusterView> {
  const roles = Object.fromEntries(await Promise.all(hosts.map(async (h) => [h, await roleOf(h, creds)] as const)));
  const sentinels = Object.fromEntries(
    await Promise.all(hosts.map(async (h) => [h, await sentinelKnowledge(h, masterName, creds)] as const)),
  );
  const sentinelVotes = Object.fromEntries(hosts.map((h) => [h, sentinels[h]?.master]));
  return { roles, masters: hosts.filter((h) => roles[h]?.role === "master"), sentinelVotes, sentinels };
}

/**
 * Converged: one master, every other pod a replica linked to it, and every Sentinel
 * naming it while seeing all replicas and all peer Sentinels healthy, so that the
 * next failover has candidates and a majority.
 */
export function isConverged(view: ClusterView): boolean {
  if (view.masters.length !== 1) return false;
  const master = view.masters[0]!;
  const pods = Object.keys(view.roles).length;
  const replicasLinked = Object.entries(view.roles).every(
    ([host, role]) => host === master || (role.role === "slave" && role.master === master && role.state === "connected"),
  );
  const sentinelsAgree = Object.values(view.sentinels).every(
    (s) => s.master === master && s.replicas === pods - 1 && s.sentinels === pods - 1,
  );
  return replicasLinked && sentinelsAgree;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitForConvergence(hosts: string[], masterName: string, creds: Credentials, timeoutMs: number): Promise<ClusterView> {
  let last: ClusterView | undefined;
  try {
    return await waitFor(
      "the topology to converge",
      async () => {
        last = await clusterView(hosts, masterName, creds);
        return isConverged(last) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last view: ${JSON.stringify(last)}`);
  }
}

/**
 * Whether a master accepts a write right now, found by writing a probe key with a
 * short timeout. Counting replicas is not enough: min-replicas-to-write counts
 * acknowledgements that may sit unread in a stalled master's socket, and a master
 * handing over in preStop has writes paused (which INFO does not show).
 */
async function acceptsWrites(master: string, creds: Credentials): Promise<boolean> {
  try {
    const reply = await withConnection(master, REDIS_PORT, creds.redisPassword, (c) => c.set("drill:writable-probe", String(Date.now())), 300);
    return reply === "OK";
  } catch {
    return false;
  }
}

/**
 * Polls every Redis every 100 ms in the background: reports each change of the set
 * of masters, and counts samples with two masters and samples with two masters that
 * both accepted a write. The returned function stops it and gives the counts.
 */
export function watchMasters(hosts: string[], masterName: string, creds: Credentials, onChange: (masters: string[]) => void = () => undefined) {
  let running = true;
  let twoMasters = 0;
  let twoWritable = 0;
  let last = "";
  const loop = (async () => {
    while (running) {
      const view = await clusterView(hosts, masterName, creds);
      if (view.masters.length > 1) {
        twoMasters++;
        const writable = await Promise.all(view.masters.map((m) => acceptsWrites(m, creds)));
        if (writable.filter(Boolean).length > 1) twoWritable++;
      }
      const masters = view.masters.join(",");
      if (masters !== last) {
        onChange(view.masters);
        last = masters;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return { twoMasters, twoWritable };
  };
}
