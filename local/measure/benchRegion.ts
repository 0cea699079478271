import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { backupSettings } from "../../k8s/backup/settings";
import { Credentials } from "../../probe/connection";
import { LocalBackupOptions } from "../backup/job";
import { LocalObjectStore } from "../backup/objectStore";
import { PodBridge } from "../cluster/bridge";
import { localSecretConfig, renderClusterObjects } from "../cluster/render";
import { LOCAL_SITES } from "../cluster/sites";
import { ClusterTopology } from "../cluster/topology";
import { localApiToken, localCredentials } from "../credentials";

/**
 * What one size of a backup bench runs in: its own directory and credentials, the stack's
 * rendered pods on the bench's pod network, an object store on its node address ("the other
 * region", which outlives the pods), and the backup job's options against the running pods.
 */
export interface BenchRegion {
  dir: string;
  creds: Credentials;
  store: LocalObjectStore;
  topology: ClusterTopology;
  /** Every Redis pod's FQDN. */
  hosts: string[];
  job(): LocalBackupOptions;
}

export async function benchRegion(stack: string, cfg: StackConfig, dir: string, bucket: string, storePort: number): Promise<BenchRegion> {
  fs.mkdirSync(dir, { recursive: true });
  const creds = localCredentials(dir);
  const objects = await renderClusterObjects(stack, {}, localSecretConfig(creds, localApiToken(dir)));
  const topology = new ClusterTopology(cfg, objects, path.join(dir, "region"), new PodBridge(LOCAL_SITES.bench.prefix, LOCAL_SITES.bench.subnet));
  const store = new LocalObjectStore(path.join(dir, "objects"), bucket, storePort, topology.hostAddress);
  return {
    dir,
    creds,
    store,
    topology,
    hosts: topology.pods.map((p) => p.host),
    job: () => ({ target: topology.backupTarget(), store: store.access, settings: backupSettings(cfg), scratchDir: path.join(dir, "scratch") }),
  };
}
