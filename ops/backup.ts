import { spawnSync } from "child_process";
import * as readline from "readline";
import { StackConfig } from "../config/schema";
import { CRONJOB_NAME } from "../k8s/backup/backupJob";
import { POD_PATHS } from "../k8s/redis/render";

/** How a run of backup.sh ended: its exit code and everything it printed. */
export interface BackupRunResult {
  code: number;
  output: string;
}

/** Where backup.sh runs: as a one-off Job built from the CronJob, or (local/backup/runner.ts) beside the `npm start` topology. */
export interface BackupRunner {
  where: string;
  run(args: string[], onOutput?: (chunk: string) => void): Promise<BackupRunResult>;
}

/** The id of the backup a `backup.sh now` run printed (its last line of that form). */
export function backupIdFrom(output: string): string | undefined {
  const ids = output.match(/^\d{8}T\d{6}Z$/gm);
  return ids?.[ids.length - 1];
}

export const BACKUP_COMMANDS = ["now", "list", "verify", "restore", "accept"] as const;
export type BackupCommand = (typeof BACKUP_COMMANDS)[number];

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
  /** Restore the state at this time (RFC 3339): a backup before it plus the continuous archive. */
  at?: string;
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
      if (!id === !opts.at) throw new Error("restore needs latest, a backup id (see: list) or --at TIME, and only one of them");
      if (opts.at && Number.isNaN(Date.parse(opts.at))) throw new Error(`--at ${opts.at}: not a time (RFC 3339, e.g. 2026-12-04T21:30:00Z)`);
      const what = opts.at ? `the state at ${opts.at} (a backup before it and the continuous archive)` : `backup "${id}"`;
      const ok = await confirmed(
        `Restore writes every key of ${what} into the live master of stack ${opts.stack} (${runner.where}), replacing keys of the same name; keys written since are kept.`,
        opts.stack,
        opts.yes,
      );
      if (!ok) {
        opts.print("not confirmed; nothing restored (pass --yes to run without a prompt)");
        return 2;
      }
      const point = opts.at ? ["--at", opts.at] : [id!];
      return (await runner.run(["restore", ...point, ...(opts.allowSuspect ? ["--allow-suspect"] : [])], stream)).code;
    }
    case "accept":
      if (!id) throw new Error("accept needs the id of a suspect backup (see: list)");
      return (await runner.run(["accept", id], stream)).code;
  }
}

/** The options of `ops backup restore` beyond the backup: a suspect one, or a point in time. */
export const RESTORE_OPTIONS = {
  "allow-suspect": { type: "boolean", default: false, help: "let a restore take a backup marked suspect" },
  at: { type: "string", help: "restore the state at this time (RFC 3339): a backup before it plus the continuous archive" },
} as const;
