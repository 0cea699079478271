import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { PodBridge } from "../../local/cluster/bridge";
import { localSecretConfig, renderClusterObjects } from "../../local/cluster/render";
import { PodNetworkSite } from "../../local/cluster/sites";
import { ClusterObjects } from "../../local/cluster/objects";
import { ClusterTopology, ClusterTopologyOptions } from "../../local/cluster/topology";
import { Credentials } from "../../probe/connection";
import { FAST_FAILOVER_OVERRIDES, TEST_API_TOKEN, TEST_CREDENTIALS } from "./fastFailover";
import { stackConfig } from "./stackConfig";

/** Each rendering once per suite (a suite is a module of its own): rendering takes seconds. */
const rendered = new Map<string, Promise<ClusterObjects>>();

export interface SuiteTopology {
  topology: ClusterTopology;
  cfg: StackConfig;
  creds: Credentials;
  baseDir: string;
  /** Every Redis pod's FQDN, in ordinal order. */
  hosts: string[];
}

/**
 * The dev stack's program rendered with the suite's credentials (fast failover unless
 * overridden), its Redis pods ready to start on the local kubelet on the suite's own pod network.
 */
export async function suiteTopology(
  site: PodNetworkSite,
  opts: ClusterTopologyOptions & { overrides?: Record<string, string>; creds?: Credentials; baseDir?: string } = {},
): Promise<SuiteTopology> {
  const overrides = { ...FAST_FAILOVER_OVERRIDES, ...opts.overrides };
  const creds = opts.creds ?? TEST_CREDENTIALS;
  const cfg = stackConfig("dev", overrides);
  const key = JSON.stringify([overrides, creds]);
  if (!rendered.has(key)) rendered.set(key, renderClusterObjects("dev", overrides, localSecretConfig(creds, TEST_API_TOKEN)));
  const objects = await rendered.get(key)!;
  const baseDir = opts.baseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-suite-"));
  const topology = new ClusterTopology(cfg, objects, baseDir, new PodBridge(site.prefix, site.subnet), opts);
  return { topology, cfg, creds, baseDir, hosts: topology.pods.map((p) => p.host) };
}
