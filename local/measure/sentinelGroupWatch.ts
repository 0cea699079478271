import { REDIS_PORT } from "../../k8s/redis/render";
import { Credentials, withConnection } from "../../probe/connection";
import { roleOf, Role, sentinelKnowledge, SentinelKnowledge } from "../../probe/roles";
import { waitFor } from "../../probe/wait";

/**
 * The local topology's whole state, for tests and drills: every pod's role and what every
 * Sentinel knows, convergence, and a background watch for two masters (it writes a probe key
 * to tell whether each master accepts writes, so it is never pointed at production).
 */
export interface SentinelGroupView {
  roles: Record<string, Role>;
  masters: string[];
  sentinelVotes: Record<string, string | undefined>;
  sentinels: Record<string, SentinelKnowledge>;
}

export async function sentinelGroupView(hosts: string[], masterName: string, creds: Credentials): Promise<SentinelGroupView> {
  const roles = Object.fromEntries(await Promise.all(hosts.map(async (h) => [h, await roleOf(h, creds)] as const)));
  const sentinels = Object.fromEntries(
    await Promise.all(hosts.map(async (h) => [h, await sentinelKnowledge(h, masterName, creds)] as const)),
  );
  const sentinelVotes = Object.fromEntries(hosts.map((h) => [h, sentinels[h]?.master]));
  return { roles, masters: hosts.filter((h) => roles[h]?.role === "master"), sentinelVotes, sentinels };
}

/**
 * Converged: one master, every other pod a replica linked to it, and every Sentinel
 * naming it while seeing all replicas healthy and promotable and all peer Sentinels
 * healthy, so that the next failover has candidates and a majority. A restarted replica
 * is promotable only after its first sync (start-redis.sh), and Sentinel sees that in
 * its next INFO of the replica, up to 10 s later (sentinel_info_period, sentinel.c in redis 7.4.1).
 */
export function isConverged(view: SentinelGroupView): boolean {
  if (view.masters.length !== 1) return false;
  const master = view.masters[0]!;
  const pods = Object.keys(view.roles).length;
  const replicasLinked = Object.entries(view.roles).every(
    ([host, role]) => host === master || (role.role === "slave" && role.master === master && role.state === "connected"),
  );
  const sentinelsAgree = Object.values(view.sentinels).every(
    (s) => s.master === master && s.replicas === pods - 1 && s.promotable === pods - 1 && s.sentinels === pods - 1,
  );
  return replicasLinked && sentinelsAgree;
}

export async function waitForConvergence(hosts: string[], masterName: string, creds: Credentials, timeoutMs: number): Promise<SentinelGroupView> {
  let last: SentinelGroupView | undefined;
  try {
    return await waitFor(
      "the topology to converge",
      async () => {
        last = await sentinelGroupView(hosts, masterName, creds);
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
      const view = await sentinelGroupView(hosts, masterName, creds);
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

/**
 * Wait for convergence while showing each pod's role on one updating line (npm start):
 * LABEL names a pod in that line. Resolves with the converged view.
 */
export async function waitForConvergenceShowingRoles(
  hosts: string[],
  masterName: string,
  creds: Credentials,
  timeoutMs: number,
  label: (host: string) => string = (host) => host,
): Promise<SentinelGroupView> {
  const started = Date.now();
  const view = await waitFor(
    "the topology to converge",
    async () => {
      const current = await sentinelGroupView(hosts, masterName, creds);
      const summary = hosts.map((h) => `${label(h)}=${current.roles[h]?.role ?? "?"}`).join(" ");
      process.stdout.write(`\r  ${((Date.now() - started) / 1000).toFixed(1)}s ${summary}   `);
      return isConverged(current) ? current : undefined;
    },
    timeoutMs,
    500,
  );
  process.stdout.write("\n");
  return view;
}
