import { spawnSync } from "child_process";
import * as path from "path";
import { StackConfig } from "../config/schema";
import { PodRunner } from "../ops/switchover";
import { localCredentials } from "./credentials";
import { podNetwork } from "./process/network";
import { clusterPodRunner, readClusterState } from "./cluster/localState";
import { LocalTopology } from "./process/topology";

/** The topology `npm start` runs for a stack (state in .local/<stack>): same pods, same environment. */
export function localPods(cfg: StackConfig, stack: string, stateDir = path.resolve(".local")): PodRunner {
  const cluster = readClusterState(path.join(stateDir, stack));
  return cluster ? clusterPodRunner(cluster) : topologyPods(runningLocalTopology(cfg, stack, stateDir));
}

/** The topology `npm start` is running for a stack, to act on (not to start): its pods, addresses and environment. */
export function runningLocalTopology(cfg: StackConfig, stack: string, stateDir = path.resolve(".local")): LocalTopology {
  const baseDir = path.join(stateDir, stack);
  const namespaces = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  const network = podNetwork(cfg.redisReplicas, "local", !/\brdr-redis-0\b/.test(namespaces));
  return new LocalTopology({ cfg, baseDir, network, ...localCredentials(baseDir) });
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

