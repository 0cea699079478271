import { execFileSync } from "child_process";
import { getLinode, recycleNode } from "@linode/api-v4";
import { rto, ServiceWriter } from "../probe/writes";
import { clusterStatus, redisStatus } from "./status";

/** Maps the master's address (its pod DNS name) to the Kubernetes node its pod runs on. */
export type PodNodeResolver = (masterAddress: string) => string;

export function kubectlPodNode(namespace: string): PodNodeResolver {
  return (address) =>
    execFileSync("kubectl", ["get", "pod", podOf(address), "-n", namespace, "-o", "jsonpath={.spec.nodeName}"], { encoding: "utf8" }).trim();
}

export interface NodeDrillOptions {
  stack: string;
  masterName: string;
  sentinels: string[];
  sentinelPassword: string;
  /** The public URL the probe writes through (the NodeBalancer). */
  url: string;
  /** The API's bearer token. */
  apiToken: string;
  podNode: PodNodeResolver;
  probeIntervalMs?: number;
  /** Stop probing once writes have succeeded this long after recovery. */
  settleMs?: number;
  timeoutMs?: number;
  progress?: (line: string) => void;
}

export interface NodeDrillResult {
  masterBefore: string;
  masterAfter?: string;
  node: string;
  lkeNodeId: string;
  linodeId: number;
  recycledAt: number;
  /** Longest time without a successful write after the recycle; NaN if writes never came back. */
  recoveryMs: number;
  requests: number;
  failed: number;
}

/** The StatefulSet pod a master address names: redis-1.redis-headless.ns.svc.cluster.local -> redis-1. */
export function podOf(address: string): string {
  const pod = address.split(".")[0]!;
  if (!/^[a-z0-9-]+-\d+$/.test(pod)) throw new Error(`the master address "${address}" is not a StatefulSet pod DNS name`);
  return pod;
}

/**
 * Recycle the LKE node that hosts the Redis master while a probe writes through
 * the public URL; report the time to recovery and the failed requests.
 */
export async function nodeDrill(opts: NodeDrillOptions): Promise<NodeDrillResult> {
  const progress = opts.progress ?? (() => undefined);
  const before = await redisStatus(opts.sentinels, opts.masterName, { sentinel: opts.sentinelPassword });
  if (!before.master) throw new Error(`no Sentinel at ${opts.sentinels.join(", ")} names a master for ${opts.masterName}`);
  const node = opts.podNode(before.master);
  progress(`master ${before.master} runs on node ${node}`);

  const cluster = await clusterStatus(opts.stack);
  const candidates = cluster.pools.flatMap((p) => p.nodes).filter((n) => n.instanceId !== null);
  let target: { id: string; instanceId: number } | undefined;
  for (const n of candidates) {
    if ((await getLinode(n.instanceId!)).label === node) {
      target = { id: n.id, instanceId: n.instanceId! };
      break;
    }
  }
  if (!target) throw new Error(`node ${node} is not in LKE cluster ${cluster.label}`);

  const probe = new ServiceWriter([opts.url.replace(/\/$/, "")], opts.apiToken, { intervalMs: opts.probeIntervalMs ?? 250, timeoutMs: 5000, keyPrefix: "node-drill" });
  probe.start();
  const samples = probe.samples;

  await new Promise((r) => setTimeout(r, 1000));
  const recycledAt = Date.now();
  progress(`recycling LKE node ${target.id} (linode ${target.instanceId})`);
  await recycleNode(cluster.id, target.id);

  const settleMs = opts.settleMs ?? 10_000;
  const deadline = recycledAt + (opts.timeoutMs ?? 15 * 60_000);
  let lastReport = 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const after = samples.filter((s) => s.at >= recycledAt);
    const lastFailure = [...after].reverse().find((s) => !s.ok);
    const failed = after.filter((s) => !s.ok).length;
    if (Date.now() - lastReport > 5000) {
      progress(`${((Date.now() - recycledAt) / 1000).toFixed(0)} s: ${after.length} writes, ${failed} failed`);
      lastReport = Date.now();
    }
    // Recovered and settled: writes succeeded for settleMs after the last failure (or since the recycle),
    // and the Sentinels name another master. The service can ride through with no failed write (it
    // follows the promoted replica before Sentinel announces it), so the writes alone do not say it is over.
    const settled = Date.now() - (lastFailure?.at ?? recycledAt) >= settleMs && after.length > 0 && after[after.length - 1]!.ok;
    if (!settled) continue;
    const now = (await redisStatus(opts.sentinels, opts.masterName, { sentinel: opts.sentinelPassword })).master;
    if (now !== undefined && now !== before.master) break;
  }
  await probe.stop();
  const after = await redisStatus(opts.sentinels, opts.masterName, { sentinel: opts.sentinelPassword });
  const probed = samples.filter((s) => s.at >= recycledAt);
  return {
    masterBefore: before.master,
    ...(after.master ? { masterAfter: after.master } : {}),
    node,
    lkeNodeId: target.id,
    linodeId: target.instanceId,
    recycledAt,
    recoveryMs: rto(samples, recycledAt),
    requests: probed.length,
    failed: probed.filter((s) => !s.ok).length,
  };
}
