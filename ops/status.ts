import { getKubernetesClusters, getNodeBalancerConfigNodes, getNodeBalancerConfigs, getNodeBalancers, getNodePools } from "@linode/api-v4";
import { linodeNames, stackTag } from "../infra/names";
import { REDIS_PORT, SENTINEL_PORT } from "../k8s/redis/render";
import { majorityMaster } from "../probe/agreement";
import { withConnection } from "../probe/connection";
import { LinodeApiError } from "./linodeApi";

export interface ClusterStatus {
  id: number;
  label: string;
  status: string;
  k8sVersion: string;
  pools: Array<{ id: number; type: string; nodes: Array<{ id: string; instanceId: number | null; status: string }> }>;
}

export interface NodeBalancerStatus {
  id: number;
  label: string;
  hostname: string;
  ipv4: string;
  ports: Array<{ port: number; up: number; down: number; backends: Array<{ label: string; address: string; status: string }> }>;
}

export interface ReplicaStatus {
  address: string;
  flags: string;
  linkStatus: string;
  offset: number;
  /** Bytes behind the master (or behind the most advanced replica when the master's own offset is out of reach). */
  lagBytes: number;
}

export interface SentinelView {
  sentinel: string;
  master?: string;
  quorum?: number;
  otherSentinels?: number;
  replicas: ReplicaStatus[];
  error?: string;
}

export interface RedisStatus {
  master?: string;
  /** Sentinels that name `master`, out of those asked. */
  agreeing: number;
  asked: number;
  masterOffset?: number;
  replicas: ReplicaStatus[];
  sentinels: SentinelView[];
}

async function findCluster(label: string): Promise<{ id: number; label: string; status: string; k8s_version: string }> {
  const page = await getKubernetesClusters({ page_size: 500 }, { label });
  const cluster = page.data.find((c) => c.label === label);
  if (!cluster) throw new LinodeApiError(`no LKE cluster labelled ${label}; has \`pulumi up\` run for this stack?`, 404);
  return cluster;
}

export async function clusterStatus(stack: string): Promise<ClusterStatus> {
  const cluster = await findCluster(linodeNames(stack).cluster);
  const pools = await getNodePools(cluster.id, { page_size: 500 });
  return {
    id: cluster.id,
    label: cluster.label,
    status: cluster.status,
    k8sVersion: cluster.k8s_version,
    pools: pools.data.map((p) => ({
      id: p.id,
      type: p.type,
      nodes: p.nodes.map((n) => ({ id: n.id, instanceId: n.instance_id, status: n.status })),
    })),
  };
}

/**
 * The app's NodeBalancer, found by the stack's tag: in mode pulumi Pulumi tags it, in mode
 * reserved-ip the CCM creates it with an opaque label, and in both the Service's tags
 * annotation keeps the stack tag on it (CCM GetLoadBalancerTags).
 */
export async function nodeBalancerStatus(stack: string): Promise<NodeBalancerStatus> {
  const tag = stackTag(stack);
  const nb = (await getNodeBalancers({ page_size: 500 }, { tags: tag })).data.find((n) => n.tags.includes(tag));
  if (!nb) {
    throw new LinodeApiError(`no NodeBalancer tagged ${tag}; has \`pulumi up\` run for this stack, and has the Service got its address (see the Service diagnosis)?`, 404);
  }
  const configs = await getNodeBalancerConfigs(nb.id, { page_size: 500 });
  const ports = await Promise.all(
    configs.data.map(async (config) => {
      const nodes = await getNodeBalancerConfigNodes(nb.id, config.id);
      return {
        port: config.port,
        up: config.nodes_status.up,
        down: config.nodes_status.down,
        backends: nodes.data.map((n) => ({ label: n.label, address: n.address, status: n.status })),
      };
    }),
  );
  return { id: nb.id, label: nb.label, hostname: nb.hostname ?? "", ipv4: nb.ipv4, ports };
}

/** "host" or "host:port" (port defaults to 26379). */
export function parseEndpoint(endpoint: string, defaultPort = SENTINEL_PORT): { host: string; port: number } {
  const match = /^(.+?)(?::(\d+))?$/.exec(endpoint.trim());
  if (!match || !match[1]) throw new Error(`"${endpoint}" is not host or host:port`);
  return { host: match[1], port: match[2] ? Number(match[2]) : defaultPort };
}

const fieldsOf = (flat: string[]) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1] ?? ""]] : [])));

async function askSentinel(endpoint: string, masterName: string, password: string): Promise<SentinelView> {
  const { host, port } = parseEndpoint(endpoint);
  try {
    // A Sentinel has no users, whatever local port a port-forward gives it.
    return await withConnection(host, port, password, async (c) => {
      const master = fieldsOf((await c.call("SENTINEL", "MASTER", masterName)) as string[]);
      const replicas = ((await c.call("SENTINEL", "REPLICAS", masterName)) as string[][]).map(fieldsOf);
      return {
        sentinel: endpoint,
        master: master.ip,
        quorum: Number(master.quorum),
        otherSentinels: Number(master["num-other-sentinels"]),
        replicas: replicas.map((r) => ({
          address: r.ip ?? "",
          flags: r.flags ?? "",
          linkStatus: r["master-link-status"] ?? "",
          offset: Number(r["slave-repl-offset"] ?? 0),
          lagBytes: 0,
        })),
      };
    }, 2000, undefined);
  } catch (error) {
    return { sentinel: endpoint, replicas: [], error: (error as Error).message };
  }
}

/**
 * The Redis tier through its Sentinels: the master a majority names, its replicas
 * and their lag. Outside the cluster, reach a Sentinel with
 * `kubectl port-forward -n <namespace> svc/redis-sentinel 26379`.
 */
export async function redisStatus(sentinels: string[], masterName: string, passwords: { sentinel: string; redis?: string }): Promise<RedisStatus> {
  const views = await Promise.all(sentinels.map((s) => askSentinel(s, masterName, passwords.sentinel)));
  const master = majorityMaster(views.map((v) => v.master), sentinels.length);
  const agreeing = views.filter((v) => master !== undefined && v.master === master).length;
  const source = views.find((v) => v.master === master);
  let masterOffset: number | undefined;
  if (master && passwords.redis) {
    masterOffset = await withConnection(master, REDIS_PORT, passwords.redis, async (c) => {
      const info = String(await c.call("INFO", "replication"));
      return Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
    }, 2000).catch(() => undefined);
  }
  const replicas = source?.replicas ?? [];
  const reference = masterOffset ?? Math.max(0, ...replicas.map((r) => r.offset));
  return {
    ...(master ? { master } : {}),
    agreeing,
    asked: sentinels.length,
    ...(masterOffset !== undefined ? { masterOffset } : {}),
    replicas: replicas.map((r) => ({ ...r, lagBytes: Math.max(0, reference - r.offset) })),
    sentinels: views,
  };
}
