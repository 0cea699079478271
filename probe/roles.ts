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
