import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { StackConfig } from "../config/schema";
import { CRONJOB_NAME } from "../k8s/backup/backupJob";
import { backupSettings } from "../k8s/backup/settings";
import { POD_PATHS } from "../k8s/redis/render";
import { backupIdFrom, LocalBackupOptions, processBackupTarget, runBackupScript, ScriptResult } from "../local/backupJob";
import { clusterBackupTarget, readClusterState } from "../local/cluster/localState";
import { localObjectStore } from "../local/objectStore";
import { runningLocalTopology } from "../local/podRunner";

/** Where backup.sh runs: as a one-off Job built from the CronJob, or beside the `npm start` topology. */
export interface BackupRunner {
  where: string;
  run(args: string[], onOutput?: (chunk: string) => void): Promise<ScriptResult>;
}

export const BACKUP_COMMANDS = ["now", "list", "verify", "restore", "accept"] as const;
export type BackupCommand = (typeof BACKUP_COMMANDS)[number];

/** The local topology's backup job (the store is the one `npm start` runs). */
export async function localBackupRunner(cfg: StackConfig, stack: string, stateDir = path.resolve(".local")): Promise<BackupRunner> {
  const baseDir = path.join(stateDir, stack);
  const startIt = `start the topology with: npm start${stack === "dev" ? "" : ` -- --stack ${stack}`}`;
  if (!fs.existsSync(path.join(baseDir, "redis-password"))) throw new Error(`no local topology for stack ${stack} in ${baseDir}; ${startIt}`);
  const cluster = readClusterState(baseDir);
  const topology = cluster ? undefined : runningLocalTopology(cfg, stack, stateDir);
  const store = localObjectStore(baseDir, stack, cluster?.hostAddress ?? topology!.network.hostAddress);
  const reachable = await fetch(`${store.access.endpoint}/`).then(() => true, () => false);
  if (!reachable) throw new Error(`the local object store (${store.access.endpoint}) is not running; ${startIt}`);
  const target = cluster ? clusterBackupTarget(cluster, cfg) : processBackupTarget(topology!);
  const job: LocalBackupOptions = { target, store: store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "backup-scratch") };
  return { where: `the local topology of stack ${stack}`, run: (args, onOutput) => runBackupScript(job, args, {}, onOutput) };
}

/**
 * A Job that runs `backup.sh ARGS` with the CronJob's own pod (image, environment, Secrets,
 * rclone, volumes), so what an operator runs is exactly what the schedule runs.
 */
export function jobFromCronJob(cronJob: { spec: { jobTemplate: { spec: any } }; metadata: { namespace: string } }, args: string[], name: string): object {
  const spec = structuredClone(cronJob.spec.jobTemplate.spec);
  const container = spec.template.spec.containers[0];
  container.command = ["bash", `${POD_PATHS.scripts}/backup.sh`, ...args];
  spec.backoffLimit = 0;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: cronJob.metadata.namespace, labels: { ...(spec.template.metadata?.labels ?? {}), "redis-dr/backup-command": args[0] } },
    spec: { ...spec, ttlSecondsAfterFinished: 3600 },
  };
}

export function kubectlBackupRunner(cfg: StackConfig): BackupRunner {
  const kubectl = (args: string[], input?: string) => {
    const result = spawnSync("kubectl", ["-n", cfg.namespace, ...args], { encoding: "utf8", input, maxBuffer: 64 * 1024 * 1024 });
    if (result.error) throw new Error(`kubectl: ${result.error.message}`);
    return result;
  };
  return {
    where: `namespace ${cfg.namespace}`,
    run: async (args) => {
      const cron = kubectl(["get", "cronjob", CRONJOB_NAME, "-o", "json"]);
      if (cron.status !== 0) throw new Error(`no CronJob ${CRONJOB_NAME} in namespace ${cfg.namespace}: ${cron.stderr.trim()}`);
      const name = `${CRONJOB_NAME}-${args[0]}-${Date.now().toString(36)}`;
      const created = kubectl(["create", "-f", "-"], JSON.stringify(jobFromCronJob(JSON.parse(cron.stdout), args, name)));
      if (created.status !== 0) throw new Error(`could not create Job ${name}: ${created.stderr.trim()}`);
      // Complete or Failed, whichever comes first; the deadline is the CronJob's own.
      const waited = kubectl(["wait", `job/${name}`, "--for=jsonpath={.status.conditions[0].status}=True", "--timeout=3600s"]);
      const logs = kubectl(["logs", `job/${name}`, "-c", "backup"]);
      const failed = kubectl(["get", `job/${name}`, "-o", "jsonpath={.status.failed}"]).stdout.trim();
      const code = waited.status === 0 && failed === "" ? 0 : 1;
      return { code, output: `${logs.stdout}${logs.stderr}` };
    },
  };
}

/** Asks the operator to type the stack name; --yes answers for them. A non-interactive run without --yes refuses. */
export async function confirmed(question: string, expected: string, yes: boolean): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  const answer = await new Promise<string>((resolve) => rl.question(`${question}\nType "${expected}" to go on: `, resolve));
  rl.close();
  return answer.trim() === expected;
}

export interface BackupCommandOptions {
  stack: string;
  yes: boolean;
  /** Let restore take a backup marked suspect (it shrank too far from the one before). */
  allowSuspect?: boolean;
  print: (line: string) => void;
}

/** The operator's backup commands; returns the exit code. */
export async function backupCommand(runner: BackupRunner, command: BackupCommand, id: string | undefined, opts: BackupCommandOptions): Promise<number> {
  const stream = (chunk: string) => opts.print(chunk.replace(/\n$/, ""));
  switch (command) {
    case "now": {
      opts.print(`backup on ${runner.where}: take, verify from the store, apply retention...`);
      const result = await runner.run(["run"], stream);
      const taken = backupIdFrom(result.output);
      if (result.code !== 0 || !taken) return 1;
      opts.print(`verified backup: ${taken}`);
      return 0;
    }
    case "list":
      return (await runner.run(["list"], stream)).code;
    case "verify":
      if (!id) throw new Error("verify needs a backup id (see: list)");
      return (await runner.run(["verify", id], stream)).code;
    case "restore": {
      if (!id) throw new Error("restore needs latest or a backup id (see: list)");
      const ok = await confirmed(
        `Restore writes every key of backup "${id}" into the live master of stack ${opts.stack} (${runner.where}), replacing keys of the same name; keys written since are kept.`,
        opts.stack,
        opts.yes,
      );
      if (!ok) {
        opts.print("not confirmed; nothing restored (pass --yes to run without a prompt)");
        return 2;
      }
      return (await runner.run(["restore", id, ...(opts.allowSuspect ? ["--allow-suspect"] : [])], stream)).code;
    }
    case "accept":
      if (!id) throw new Error("accept needs the id of a suspect backup (see: list)");
      return (await runner.run(["accept", id], stream)).code;
  }
}
