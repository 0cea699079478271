import * as fs from "fs";
import { StackConfig } from "../../config/schema";
import { Credentials } from "../../probe/connection";
import { PodBridge } from "../cluster/bridge";
import { localSecretConfig, renderClusterObjects } from "../cluster/render";
import { localApiToken, localCredentials } from "../credentials";
import { NamespaceNetwork, podNetwork, SITES } from "../process/network";
import { ClusterDrillTopology, DrillTopology, ProcessDrillTopology } from "./drillTopology";

export type RuntimeKind = "cluster" | "processes";

export interface DrillRuntime {
  kind: RuntimeKind;
  /** One line on where the pods run, for the report. */
  description: string;
  creds: Credentials;
  apiToken: string;
  topology(dir: string): DrillTopology;
}

/** The cluster runtime's pod network, beside the processes runtime's drill site (never both at once). */
export const CLUSTER_BRIDGE = { prefix: "rdrd", subnet: SITES.drill.subnet } as const;

/**
 * Where a drill's scenarios run. "cluster" (the default where namespaces are allowed): the
 * program is rendered for the stack with the run's credentials, and every scenario gets the
 * rendered StatefulSet and Deployment on the local kubelet with cluster DNS. "processes": the
 * pods' scripts as host processes, in namespaces or (loopback) on loopback addresses.
 */
export async function drillRuntime(opts: {
  stack: string;
  overrides: Record<string, string>;
  cfg: StackConfig;
  stateDir: string;
  requested?: RuntimeKind;
  loopback: boolean;
  dnsPropagationMs: number;
}): Promise<DrillRuntime> {
  fs.mkdirSync(opts.stateDir, { recursive: true });
  const creds = localCredentials(opts.stateDir);
  const apiToken = localApiToken(opts.stateDir);
  const namespaces = !opts.loopback && NamespaceNetwork.available();
  const kind: RuntimeKind = opts.requested ?? (namespaces ? "cluster" : "processes");
  if (kind === "cluster") {
    if (!namespaces) throw new Error("the cluster runtime needs network namespaces: run as root with iproute2 (or choose --runtime processes)");
    const objects = await renderClusterObjects(opts.stack, opts.overrides, localSecretConfig(creds, apiToken));
    return {
      kind,
      description: `the rendered manifests on the local kubelet, one network namespace per pod, cluster DNS (propagation ${opts.dnsPropagationMs} ms)`,
      creds,
      apiToken,
      topology: (dir) => new ClusterDrillTopology(opts.cfg, objects, dir, new PodBridge(CLUSTER_BRIDGE.prefix, CLUSTER_BRIDGE.subnet), { dnsPropagationMs: opts.dnsPropagationMs }),
    };
  }
  const network = podNetwork(opts.cfg.redisReplicas, "drill", opts.loopback);
  return {
    kind,
    description: `the pods' scripts as processes on ${network.kind === "namespaces" ? "network namespaces" : "loopback addresses"}`,
    creds,
    apiToken,
    topology: (dir) => new ProcessDrillTopology(opts.cfg, dir, network, creds),
  };
}
