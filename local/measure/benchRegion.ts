import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { backupSettings } from "../../k8s/backup/settings";
import { Credentials } from "../../probe/connection";
import { LocalBackupOptions, processBackupTarget } from "../backup/job";
import { LocalObjectStore } from "../backup/objectStore";
import { localCredentials } from "../credentials";
import { PodNetwork, podNetwork } from "../process/network";
import { LocalTopology } from "../process/topology";

/**
 * What one size of a backup bench runs in: its own directory, credentials, pod network and
 * object store ("the other region"), the topologies built on them (before and after a loss),
 * and the backup job's options against one of those.
 */
export interface BenchRegion {
  dir: string;
  creds: Credentials;
  network: PodNetwork;
  store: LocalObjectStore;
  topology(name: string): LocalTopology;
  job(topology: LocalTopology): LocalBackupOptions;
}

export function benchRegion(cfg: StackConfig, dir: string, loopback: boolean, bucket: string, storePort: number): BenchRegion {
  fs.mkdirSync(dir, { recursive: true });
  const creds = localCredentials(dir);
  const network = podNetwork(cfg.redisReplicas, "drill", loopback);
  const store = new LocalObjectStore(path.join(dir, "objects"), bucket, storePort, network.hostAddress);
  return {
    dir,
    creds,
    network,
    store,
    topology: (name) => new LocalTopology({ cfg, baseDir: path.join(dir, name), network, ...creds }),
    job: (topology) => ({ target: processBackupTarget(topology), store: store.access, settings: backupSettings(cfg), scratchDir: path.join(dir, "scratch") }),
  };
}
