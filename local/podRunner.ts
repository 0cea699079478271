import * as path from "path";
import { PodRunner } from "../ops/switchover";
import { clusterPodRunner, readClusterState } from "./cluster/localState";
import { LocalTopology } from "./process/topology";

/** The pods `npm start` runs for a stack (state in .local/<stack>), as kubectl exec reaches them. */
export function localPods(stack: string, stateDir = path.resolve(".local")): PodRunner {
  const cluster = readClusterState(path.join(stateDir, stack));
  if (!cluster) throw new Error(`no local topology of stack ${stack} is running; start it with: npm start${stack === "dev" ? "" : ` -- --stack ${stack}`}`);
  return clusterPodRunner(cluster);
}

/** The pods of a local topology, run as the kubelet would run a script in them. */
export function topologyPods(topology: LocalTopology): PodRunner {
  const byName = (pod: string) => topology.pods.find((p) => p.name === pod)!;
  return {
    pods: topology.pods.map((p) => p.name),
    stableName: (pod) => byName(pod).address,
    run: (pod, script, args) => topology.runScript(byName(pod), script, args),
  };
}

