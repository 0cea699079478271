import * as path from "path";
import { PodRunner } from "../ops/switchover";
import { clusterPodRunner, readClusterState } from "./cluster/localState";
import { ClusterTopology } from "./cluster/topology";

/** The pods `npm start` runs for a stack (state in .local/<stack>), as kubectl exec reaches them. */
export function localPods(stack: string, stateDir = path.resolve(".local")): PodRunner {
  const cluster = readClusterState(path.join(stateDir, stack));
  if (!cluster) throw new Error(`no local topology of stack ${stack} is running; start it with: npm start${stack === "dev" ? "" : ` -- --stack ${stack}`}`);
  return clusterPodRunner(cluster);
}

/** A topology's Redis pods, as `kubectl exec` into their redis container runs a script, with ENV added. */
export function topologyPods(topology: ClusterTopology, env: Record<string, string> = {}): PodRunner {
  const byName = (pod: string) => topology.pods.find((p) => p.name === pod)!;
  return {
    pods: topology.pods.map((p) => p.name),
    stableName: (pod) => byName(pod).host,
    run: (pod, script, args) => topology.exec(byName(pod), script, args, env),
  };
}
