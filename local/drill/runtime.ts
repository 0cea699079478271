import * as fs from "fs";
import { StackConfig } from "../../config/schema";
import { Credentials } from "../../probe/connection";
import { PodBridge } from "../cluster/bridge";
import { localSecretConfig, renderClusterObjects } from "../cluster/render";
import { LOCAL_SITES } from "../cluster/sites";
import { localApiToken, localCredentials } from "../credentials";
import { ClusterTopology } from "../cluster/topology";

export interface DrillRuntime {
  /** One line on where the pods run, for the report. */
  description: string;
  creds: Credentials;
  apiToken: string;
  topology(dir: string): ClusterTopology;
}

/**
 * Where a drill's scenarios run: the program rendered for the stack with the run's
 * credentials, and for every scenario the rendered StatefulSet and Deployment on the local
 * kubelet, one network namespace per pod, with cluster DNS.
 */
export async function drillRuntime(opts: { stack: string; overrides: Record<string, string>; cfg: StackConfig; stateDir: string; dnsPropagationMs: number }): Promise<DrillRuntime> {
  fs.mkdirSync(opts.stateDir, { recursive: true });
  const creds = localCredentials(opts.stateDir);
  const apiToken = localApiToken(opts.stateDir);
  const objects = await renderClusterObjects(opts.stack, opts.overrides, localSecretConfig(creds, apiToken));
  return {
    description: `the rendered manifests on the local kubelet, one network namespace per pod, cluster DNS (propagation ${opts.dnsPropagationMs} ms)`,
    creds,
    apiToken,
    topology: (dir) => new ClusterTopology(opts.cfg, objects, dir, new PodBridge(LOCAL_SITES.drill.prefix, LOCAL_SITES.drill.subnet), { dnsPropagationMs: opts.dnsPropagationMs }),
  };
}
