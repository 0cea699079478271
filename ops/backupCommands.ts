import { command, CommandSpec, OptionSpecs } from "../scripts/commandTable";
import { BackupCommand, backupCommand, BackupRunner } from "./backup";
import { STACK, YES } from "./commonOptions";

const ALLOW_SUSPECT = { "allow-suspect": { type: "boolean", default: false, help: "let a restore take a backup marked suspect (it shrank by backupShrinkAlarmPercent or more)" } } as const;
const POINT_IN_TIME = {
  at: { type: "string", value: "TIME", help: "restore the state at this time (RFC 3339, or latest: the newest archived write): a backup before it plus the continuous archive" },
  skip: { type: "string", value: "OFFSETS", help: "with --at: leave out the archived commands at these offsets, comma-separated (see: log)" },
  "allow-gap": { type: "boolean", default: false, help: "with --at: replay across gaps the archiver recorded (full resyncs), printing what each leaves out" },
} as const;
const LOG_FILTER = {
  since: { type: "string", value: "TIME", help: "commands received at or after this time (RFC 3339)" },
  until: { type: "string", value: "TIME", help: "commands received at or before this time (RFC 3339)" },
  match: { type: "string", value: "X", help: "only command X (FLUSHALL, DEL) or commands on keys matching glob X" },
} as const;

/**
 * The backup commands, each with only the options it takes, for `npm run ops -- backup` (a Job
 * of the CronJob's pod) and `npm run backup` (the npm start topology): RUNNER_FOR gives the
 * runner for the stack the command names.
 */
export function backupCommands(runnerFor: (stack: string) => Promise<BackupRunner>): Record<BackupCommand, CommandSpec<OptionSpecs>> {
  const print = (line: string) => console.log(line);
  const plain = (name: BackupCommand, summary: string, args?: { name: string; count: number }) =>
    command({
      summary,
      ...(args ? { args: args.name } : {}),
      positionals: { min: args?.count ?? 0, max: args?.count ?? 0 },
      options: { ...STACK },
      run: async (values, [id]) => backupCommand(await runnerFor(values.stack), name, id, { stack: values.stack, yes: false, print }),
    });
  return {
    now: plain("now", "take a backup, verify it by restoring it into a scratch server, apply retention; prints its id and exits 0 only once it is verified"),
    list: plain("list", "every backup: id, time, keys, bytes, verified or not, suspect (latest skips those)"),
    verify: plain("verify", "verify a backup again: download, sha256, restore into a scratch server", { name: "ID", count: 1 }),
    restore: command({
      summary: "write a backup's keys (an id, latest, or with --at the state at a time) into the live master, after a bad write; asks first",
      args: "[ID|latest]",
      positionals: { min: 0, max: 1 },
      options: { ...STACK, ...YES, ...ALLOW_SUSPECT, ...POINT_IN_TIME },
      run: async (values, [id]) =>
        backupCommand(await runnerFor(values.stack), "restore", id, {
          stack: values.stack,
          yes: values.yes,
          allowSuspect: values["allow-suspect"],
          at: values.at,
          skip: values.skip,
          allowGap: values["allow-gap"],
          print,
        }),
    }),
    accept: plain("accept", "trust a suspect backup (the shrink was meant)", { name: "ID", count: 1 }),
    window: plain("window", "the times restore --at can reach: from the oldest trusted backup the archive continues to the newest archived write, less any gap until the next backup"),
    log: command({
      summary: "the archived commands: time received, offset, database, command, keys",
      positionals: { min: 0, max: 0 },
      options: { ...STACK, ...LOG_FILTER },
      run: async (values) => backupCommand(await runnerFor(values.stack), "log", undefined, { stack: values.stack, yes: false, since: values.since, until: values.until, match: values.match, print }),
    }),
    undo: command({
      summary: "the live master as if the archived commands at those offsets (see: log) had never run; every other write, before and after, stays; asks first",
      args: "OFFSET...",
      positionals: { min: 1, max: 64 },
      options: { ...STACK, ...YES },
      run: async (values, [first, ...offsets]) => backupCommand(await runnerFor(values.stack), "undo", first, { stack: values.stack, yes: values.yes, offsets, print }),
    }),
  };
}
