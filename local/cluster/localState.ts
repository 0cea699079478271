import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { PodRunner } from "../../ops/switchover";
import { BackupTarget, backupTarget } from "../backup/job";
import { runCollecting } from "../scriptProcess";

/**
 * What `npm start` on the cluster runtime leaves for other commands (ops switchover, backups)
 * to act on it: each Redis pod's namespace, stable name, scripts and redis container
 * environment (a 0600 file beside the pod's volumes, as the passwords already are).
 */
export interface LocalClusterState {
  /** The node's address on the pod network (where the object store listens). */
  hostAddress: string;
  /** The namespace the backup job runs in (cluster DNS, no kubelet). */
  backupNetns: string;
  pods: Array<{ name: string; host: string; netns: string; scriptsDir: string; envFile: string }>;
}

const STATE_FILE = "cluster.json";

export function writeClusterState(baseDir: string, state: LocalClusterState): void {
  fs.writeFileSync(path.join(baseDir, STATE_FILE), JSON.stringify(state, null, 1), { mode: 0o600 });
}

export function removeClusterState(baseDir: string): void {
  fs.rmSync(path.join(baseDir, STATE_FILE), { force: true });
}

/** The running cluster runtime's state, if `npm start` runs one for this directory now. */
export function readClusterState(baseDir: string): LocalClusterState | undefined {
  const file = path.join(baseDir, STATE_FILE);
  if (!fs.existsSync(file)) return undefined;
  const state = JSON.parse(fs.readFileSync(file, "utf8")) as LocalClusterState;
  const namespaces = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  return state.pods.every((p) => new RegExp(`^${p.netns}( |$)`, "m").test(namespaces)) ? state : undefined;
}

const inNamespace = (netns: string, command: string, args: string[]) => ({ command: "ip", args: ["netns", "exec", netns, command, ...args] });
const podEnv = (envFile: string): Record<string, string> => JSON.parse(fs.readFileSync(envFile, "utf8")) as Record<string, string>;

/** The cluster runtime's Redis pods, as `kubectl exec` into their redis container would run a script. */
export function clusterPodRunner(state: LocalClusterState): PodRunner {
  const byName = (name: string) => state.pods.find((p) => p.name === name)!;
  return {
    pods: state.pods.map((p) => p.name),
    stableName: (pod) => byName(pod).host,
    run: (pod, script, args) => {
      const p = byName(pod);
      const { command, args: argv } = inNamespace(p.netns, "bash", [path.join(p.scriptsDir, script), ...args]);
      return runCollecting(command, argv, { PATH: process.env.PATH, ...podEnv(p.envFile) });
    },
  };
}

/** The backup job of the cluster runtime: in its own namespace, reaching the pods by name. */
export function clusterBackupTarget(state: LocalClusterState, settings: StackConfig): BackupTarget {
  return backupTarget(settings, state.pods.map((p) => p.host), podEnv(state.pods[0]!.envFile), (command, args) => inNamespace(state.backupNetns, command, args));
}
