import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { backupSettings } from "../../k8s/backup/settings";
import { BackupRunner } from "../../ops/backup";
import { clusterBackupTarget, readClusterState } from "../cluster/localState";
import { LocalBackupOptions, runBackupScript } from "./job";
import { localObjectStore } from "./objectStore";

/** The local topology's backup job (the store is the one `npm start` runs). */
export async function localBackupRunner(cfg: StackConfig, stack: string, stateDir = path.resolve(".local")): Promise<BackupRunner> {
  const baseDir = path.join(stateDir, stack);
  const startIt = `start the topology with: npm start${stack === "dev" ? "" : ` -- --stack ${stack}`}`;
  if (!fs.existsSync(path.join(baseDir, "redis-password"))) throw new Error(`no local topology for stack ${stack} in ${baseDir}; ${startIt}`);
  const cluster = readClusterState(baseDir);
  if (!cluster) throw new Error(`the local topology of stack ${stack} is not running; ${startIt}`);
  const store = localObjectStore(baseDir, stack, cluster.hostAddress);
  const reachable = await fetch(`${store.access.endpoint}/`).then(() => true, () => false);
  if (!reachable) throw new Error(`the local object store (${store.access.endpoint}) is not running; ${startIt}`);
  const target = clusterBackupTarget(cluster, cfg);
  const job: LocalBackupOptions = { target, store: store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "backup-scratch") };
  return { where: `the local topology of stack ${stack}`, run: (args, onOutput) => runBackupScript(job, args, {}, onOutput) };
}
