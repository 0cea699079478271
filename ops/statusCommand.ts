import { StackConfig } from "../config/schema";
import { APP_SERVICE_NAME } from "../k8s/appTier";
import { diagnoseLoadBalancer, LoadBalancerDiagnosis } from "../k8s/loadBalancerDiagnosis";
import { BackupRunner, windowFrom } from "./backup";
import { describeError } from "./linodeApi";
import { kubectlLoadBalancerView } from "./serviceView";
import { ClusterStatus, clusterStatus, NodeBalancerStatus, nodeBalancerStatus, RedisStatus, redisStatus } from "./status";

/** What `ops status` gathers: the LKE cluster, the app Service's load balancer, the NodeBalancer and, when asked, Redis. */
export interface StatusReport {
  stack: string;
  cluster: ClusterStatus;
  service: LoadBalancerDiagnosis | { error: string };
  nodeBalancer: NodeBalancerStatus | { error: string };
  redis?: RedisStatus;
  /** With --archive: the times a restore to a time can reach, as `backup.sh window` reports them. */
  archive?: { window: string } | { error: string };
}

/** The covered window, from one `backup.sh window` run; a failed run is reported, not thrown. */
export async function archiveWindow(backups: BackupRunner): Promise<NonNullable<StatusReport["archive"]>> {
  try {
    const result = await backups.run(["window"]);
    const window = windowFrom(result.output);
    if (result.code === 0 && window) return { window };
    return { error: `backup.sh window on ${backups.where} failed: ${result.output.trim().split("\n").pop() || `exit ${result.code}`}` };
  } catch (error) {
    return { error: describeError(error) };
  }
}

export async function gatherStatus(stack: string, cfg: StackConfig, sentinels: string[], progress: (line: string) => void, backups?: BackupRunner): Promise<StatusReport> {
  progress("LKE cluster...");
  const cluster = await clusterStatus(stack);
  progress("app Service (kubectl)...");
  let service: StatusReport["service"];
  try {
    const view = kubectlLoadBalancerView(cfg.namespace, APP_SERVICE_NAME);
    service = diagnoseLoadBalancer(view.service, view.events, cfg.publicEntry);
  } catch (error) {
    service = { error: `kubectl could not read the app Service (${describeError(error).split("\n")[0]}); set KUBECONFIG to the stack's kubeconfig output` };
  }
  progress("NodeBalancer...");
  const nodeBalancer = await nodeBalancerStatus(stack).catch((error: unknown) => ({ error: describeError(error) }));
  const report: StatusReport = { stack, cluster, service, nodeBalancer };
  if (sentinels.length > 0) {
    progress("Sentinels...");
    const passwords = { sentinel: process.env.SENTINEL_PASSWORD ?? "", ...(process.env.REDIS_PASSWORD ? { redis: process.env.REDIS_PASSWORD } : {}) };
    report.redis = await redisStatus(sentinels, cfg.masterName, passwords);
  }
  if (backups) {
    progress(`archive window (backup.sh window on ${backups.where})...`);
    report.archive = await archiveWindow(backups);
  }
  return report;
}

/** The report as `ops status` prints it, one line per fact. */
export function statusLines(report: StatusReport): string[] {
  const { cluster, service, nodeBalancer, redis, archive } = report;
  const lines = [`cluster ${cluster.label} (${cluster.id}): ${cluster.status}, Kubernetes ${cluster.k8sVersion}`];
  for (const pool of cluster.pools) for (const n of pool.nodes) lines.push(`  node ${n.id} (linode ${n.instanceId ?? "-"}, ${pool.type}): ${n.status}`);
  if ("error" in service) lines.push(`app Service: ${service.error}`);
  else lines.push(`app Service ${service.message}`, ...service.events.slice(-3).map((line) => `  ${line}`));
  if ("error" in nodeBalancer) lines.push(`NodeBalancer: ${nodeBalancer.error}`);
  else {
    lines.push(`NodeBalancer ${nodeBalancer.label}: ${nodeBalancer.hostname} ${nodeBalancer.ipv4}`);
    for (const p of nodeBalancer.ports) {
      lines.push(`  port ${p.port}: ${p.up} up, ${p.down} down`);
      for (const b of p.backends) lines.push(`    ${b.label} ${b.address}: ${b.status}`);
    }
  }
  if (redis) {
    lines.push(`Redis master: ${redis.master ?? "none"} (${redis.agreeing} of ${redis.asked} Sentinels agree)`);
    for (const r of redis.replicas) lines.push(`  replica ${r.address}: link ${r.linkStatus}, ${r.lagBytes} bytes behind${r.flags !== "slave" ? ` [${r.flags}]` : ""}`);
    for (const s of redis.sentinels.filter((v) => v.error)) lines.push(`  Sentinel ${s.sentinel}: ${s.error}`);
  }
  if (archive) lines.push("error" in archive ? `archive: ${archive.error}` : `archive restorable: ${archive.window}`);
  return lines;
}

/** Exit 1 while the load balancer is pending or the NodeBalancer cannot be read. */
export function statusExitCode(report: StatusReport): number {
  const pending = "state" in report.service && report.service.state === "pending";
  return pending || "error" in report.nodeBalancer ? 1 : 0;
}
