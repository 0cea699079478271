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

/** The offsets `backup.sh log` printed for command NAME (time, offset, database, command, keys a line). */
export function loggedOffsets(output: string, name: string): string[] {
  return output
    .split("\n")
    .map((line) => line.split("\t"))
    .filter((fields) => fields.length >= 4 && fields[3] === name && /^\d+$/.test(fields[1]!))
    .map((fields) => fields[1]!);
}

/** What a `backup.sh undo` run reported: the base backup, keys set, and how long writes were held. */
export function undoReport(output: string): { base?: string; keysSet: number; heldMs: number } {
  const base = /undo: base backup (\S+)/.exec(output)?.[1];
  return {
    ...(base ? { base } : {}),
    keysSet: Number(/(\d+) key\(s\) set/.exec(output)?.[1] ?? 0),
    heldMs: Number(/held writes for (\d+) ms/.exec(output)?.[1] ?? Number.NaN),
  };
}

/** The line `backup.sh window` printed: the times a restore to a time can reach (everything after "restorable: "). */
export function windowFrom(output: string): string | undefined {
  return /^restorable: (.+)$/m.exec(output)?.[1];
}

export const BACKUP_COMMANDS = ["now", "list", "verify", "restore", "accept", "window", "log", "undo"] as const;
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
  /** (restore --at) archived units to leave out, by the offsets `log` prints. */
  skip?: string;
  /** (restore --at) replay across gaps the archiver recorded; what each leaves out is printed. */
  allowGap?: boolean;
  /** (log) the window and the filter: RFC 3339 times, a command name or a key pattern. */
  since?: string;
  until?: string;
  match?: string;
  /** (undo) the offsets of the archived units to undo. */
  offsets?: string[];
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
      if (opts.at && opts.at !== "latest" && Number.isNaN(Date.parse(opts.at))) throw new Error(`--at ${opts.at}: not a time (RFC 3339, e.g. 2026-12-04T21:30:00Z) or latest`);
      if (opts.skip && !opts.at) throw new Error("--skip needs --at (latest: the newest archived write)");
      if (opts.allowGap && !opts.at) throw new Error("--allow-gap needs --at (a backup alone replays no archive)");
      const point = opts.at ? ["--at", opts.at, ...(opts.skip ? ["--skip", skipList(opts.skip)] : []), ...(opts.allowGap ? ["--allow-gap"] : [])] : [id!];
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
      return (await runner.run(["restore", ...point, ...(opts.allowSuspect ? ["--allow-suspect"] : [])], stream)).code;
    }
    case "log": {
      for (const [name, value] of [["since", opts.since], ["until", opts.until]] as const) {
        if (value !== undefined && Number.isNaN(Date.parse(value))) throw new Error(`--${name} ${value}: not a time (RFC 3339, e.g. 2026-12-04T21:30:00Z)`);
      }
      const filter = [...(opts.since ? ["--since", opts.since] : []), ...(opts.until ? ["--until", opts.until] : []), ...(opts.match ? ["--match", opts.match] : [])];
      return (await runner.run(["log", ...filter], stream)).code;
    }
    case "undo": {
      const offsets = [id, ...(opts.offsets ?? [])].filter((o): o is string => o !== undefined);
      if (offsets.length === 0 || offsets.some((o) => !/^\d+$/.test(o))) throw new Error("undo needs the offsets of archived commands (see: log)");
      const ok = await confirmed(
        `Undo rewrites, in the live master of stack ${opts.stack} (${runner.where}), every key the archived command(s) at offset ${offsets.join(", ")} changed, as if they had never run; every other write stays.`,
        opts.stack,
        opts.yes,
      );
      if (!ok) {
        opts.print("not confirmed; nothing undone (pass --yes to run without a prompt)");
        return 2;
      }
      return (await runner.run(["undo", ...offsets], stream)).code;
    }
    case "accept":
      if (!id) throw new Error("accept needs the id of a suspect backup (see: list)");
      return (await runner.run(["accept", id], stream)).code;
    case "window":
      return (await runner.run(["window"], stream)).code;
  }
}

/** "1,2 3" as backup.sh takes it ("1,2,3"); anything but offsets is refused. */
export function skipList(value: string): string {
  const offsets = value.split(/[\s,]+/).filter(Boolean);
  if (offsets.length === 0 || offsets.some((o) => !/^\d+$/.test(o))) throw new Error(`--skip ${value}: must be offsets of archived commands, comma-separated (see: log)`);
  return offsets.join(",");
}

/** The options of `ops backup` beyond the backup: a suspect one, a point in time, and the archive's log. */
export const RESTORE_OPTIONS = {
  "allow-suspect": { type: "boolean", default: false, help: "let a restore take a backup marked suspect" },
  at: { type: "string", help: "restore the state at this time (RFC 3339, or latest): a backup before it plus the continuous archive" },
  skip: { type: "string", help: "with --at: leave out the archived commands at these offsets (see: log)" },
  "allow-gap": { type: "boolean", default: false, help: "with --at: replay across gaps the archiver recorded (full resyncs), printing what each leaves out" },
  since: { type: "string", help: "log: commands received at or after this time (RFC 3339)" },
  until: { type: "string", help: "log: commands received at or before this time (RFC 3339)" },
  match: { type: "string", help: "log: only this command (FLUSHALL, DEL) or commands on keys matching this glob" },
} as const;
