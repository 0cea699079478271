import { REDIS_PORT, SENTINEL_PORT } from "../k8s/redis/render";
import { Credentials, withConnection } from "./connection";

/** What a Redis answers to ROLE, or down when it does not answer. */
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

/**
 * What one Sentinel knows: the master it names, how many healthy replicas and peers it sees, and
 * how many of those replicas it would promote (replica-priority above 0 in its last INFO of them).
 */
export interface SentinelKnowledge {
  master?: string;
  replicas: number;
  promotable: number;
  sentinels: number;
}

export async function sentinelKnowledge(host: string, masterName: string, creds: Credentials): Promise<SentinelKnowledge> {
  try {
    return await withConnection(host, SENTINEL_PORT, creds.sentinelPassword, async (c) => {
      const address = (await c.call("SENTINEL", "get-master-addr-by-name", masterName)) as string[] | null;
      const replicas = (await c.call("SENTINEL", "REPLICAS", masterName)) as string[][];
      const sentinels = (await c.call("SENTINEL", "SENTINELS", masterName)) as string[][];
      const field = (fields: string[], name: string) => fields[fields.indexOf(name) + 1] ?? "";
      const healthy = (fields: string[]) => !/s_down|o_down|disconnected/.test(field(fields, "flags"));
      const healthyReplicas = replicas.filter(healthy);
      return {
        ...(address ? { master: address[0] } : {}),
        replicas: healthyReplicas.length,
        promotable: healthyReplicas.filter((r) => Number(field(r, "slave-priority")) > 0).length,
        sentinels: sentinels.filter(healthy).length,
      };
    });
  } catch {
    return { replicas: 0, promotable: 0, sentinels: 0 };
  }
}
