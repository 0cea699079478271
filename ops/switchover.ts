import { execFileSync, spawnSync } from "child_process";
import { StackConfig } from "../config/schema";
import { podFqdns, POD_PATHS, STATEFULSET_NAME } from "../k8s/redis/render";

/** Where the Redis pods are: a real deployment (kubectl exec) or the `npm start` topology. */
export interface PodRunner {
  /** Pod names in ordinal order (redis-0, ...). */
  pods: string[];
  /** The stable name a pod announces: its FQDN in the cluster, its address locally. */
  stableName(pod: string): string;
  /** Runs k8s/redis/scripts/<script> in the pod's redis container, with the pod's environment. */
  run(pod: string, script: string, args: string[]): Promise<{ code: number; output: string }>;
}

export function kubectlPods(cfg: StackConfig): PodRunner {
  const pods = Array.from({ length: cfg.redisReplicas }, (_, i) => `${STATEFULSET_NAME}-${i}`);
  const fqdns = podFqdns(cfg);
  return {
    pods,
    stableName: (pod) => fqdns[pods.indexOf(pod)]!,
    run: async (pod, script, args) => {
      const result = spawnSync("kubectl", ["exec", "-n", cfg.namespace, pod, "-c", "redis", "--", "bash", `${POD_PATHS.scripts}/${script}`, ...args], {
        encoding: "utf8",
      });
      if (result.error) throw new Error(`kubectl: ${result.error.message}`);
      return { code: result.status ?? 1, output: `${result.stdout}${result.stderr}` };
    },
  };
}

export interface SwitchoverResult {
  from: string;
  to?: string;
  code: number;
  output: string;
}

/**
 * The operator's switchover: finds the master pod, then runs switchover.sh in it (the same
 * script as the preStop handover). `to` is a pod name (redis-N); without it Sentinel picks
 * among the replicas that hold every byte.
 */
export async function switchover(runner: PodRunner, to?: string): Promise<SwitchoverResult> {
  if (to !== undefined && !runner.pods.includes(to)) throw new Error(`--to ${to}: not a Redis pod (pods: ${runner.pods.join(", ")})`);
  const roles = await Promise.all(runner.pods.map(async (pod) => [pod, (await runner.run(pod, "switchover.sh", ["--check"])).output.trim().split("\n").at(-1)] as const));
  const masters = roles.filter(([, role]) => role === "master").map(([pod]) => pod);
  if (masters.length !== 1) throw new Error(`expected one master pod, found ${masters.length}: ${roles.map(([pod, role]) => `${pod} ${role}`).join(", ")}`);
  const from = masters[0]!;
  if (to === from) throw new Error(`${to} is already the master`);
  const result = await runner.run(from, "switchover.sh", to ? [runner.stableName(to)] : []);
  return { from, ...(to ? { to } : {}), code: result.code, output: result.output };
}

/** Whether kubectl can reach the cluster (for a clear error before anything runs). */
export function kubectlAvailable(): boolean {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The option that names a switchover's target (ops; npm run switchover shows its help). */
export const SWITCHOVER_TARGET = { to: { type: "string", value: "POD", help: "the target (redis-N); default: Sentinel's choice among in-sync replicas" } } as const;

/** A switchover's outcome as both commands print it: the script's log, then one verdict line. */
export function switchoverLine(result: SwitchoverResult): string {
  const verdict = result.code === 0 ? "switched" : result.code === 3 ? "refused (nothing changed)" : "FAILED";
  return `${result.output.trim()}\n${verdict}: ${result.from} -> ${result.to ?? "Sentinel's choice"}`;
}
