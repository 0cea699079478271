import { stackFileConfig } from "../../config/stackFile";
import { BACKUP_COMMANDS, BackupCommand, backupCommand } from "../../ops/backup";
import { localBackupRunner } from "../backup/runner";
import { parseCommandLine } from "../../scripts/commandLine";
import * as path from "path";
import { joinRootlessRun } from "../cluster/rootless";

const USAGE = `usage: npm run backup -- COMMAND [ID] [options]

Backups of the local topology (npm start), by the CronJob's own script, into the local
object store that stands in for the backup region.

commands:
  now                 take a backup, verify it by restoring it, apply retention; prints its id
                      and exits 0 only once it is verified
  list                every backup: id, time, keys, bytes, verified or not, suspect (it shrank
                      by backupShrinkAlarmPercent or more: latest skips it)
  verify ID           verify a backup again (download, sha256, restore into a scratch server)
  restore ID|latest   write a backup's keys into the live master (after a bad write); asks first
  restore --at TIME   the same with the state at TIME (RFC 3339, or latest: the newest archived
                      write): the newest verified backup before it and the continuous archive
                      replayed to the last write by then; --skip OFFSETS leaves those commands out;
                      the window ends at a gap (see: window) unless --allow-gap
  accept ID           trust a suspect backup (the shrink was meant)
  window              the times restore --at can reach: the oldest trusted backup the archive
                      continues to the newest archived write, less any gap until the next backup
  log                 the archived commands: time received, offset, database, command, keys
  undo OFFSET...      the live master as if the archived commands at those offsets (see: log)
                      had never run; every other write, before and after, stays; asks first

options:
  --stack NAME        stack (Pulumi.NAME.yaml); default dev
  --yes               restore without asking
  --allow-suspect     let restore take a suspect backup
  --at TIME           (restore) the point in time to restore
  --skip OFFSETS      (restore --at) archived commands to leave out, comma-separated
  --allow-gap         (restore --at) replay across gaps the archiver recorded (full resyncs),
                      printing what each leaves out
  --since TIME        (log) commands received at or after TIME
  --until TIME        (log) and at or before TIME
  --match X           (log) only command X (FLUSHALL, DEL) or commands on keys matching glob X
  -h, --help          this text`;

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine(
    USAGE,
    {
      stack: { type: "string", default: "dev" },
      yes: { type: "boolean", default: false },
      "allow-suspect": { type: "boolean", default: false },
      at: { type: "string" },
      skip: { type: "string" },
      "allow-gap": { type: "boolean", default: false },
      since: { type: "string" },
      until: { type: "string" },
      match: { type: "string" },
    },
    true,
  );
  const [command, id, ...rest] = positionals;
  if (!command || !(BACKUP_COMMANDS as readonly string[]).includes(command) || (rest.length > 0 && command !== "undo")) {
    process.stderr.write(`${command ? `unknown command: ${command}` : "no command"}\n\n${USAGE}\n`);
    process.exit(2);
  }
  const stack = values.stack!;
  await joinRootlessRun(path.resolve(".local", stack));
  const runner = await localBackupRunner(stackFileConfig(stack), stack);
  const { at, skip, since, until, match } = values;
  const options = { stack, yes: values.yes!, allowSuspect: values["allow-suspect"]!, allowGap: values["allow-gap"]!, at, skip, since, until, match, offsets: rest };
  process.exit(await backupCommand(runner, command as BackupCommand, id, { ...options, print: (line) => console.log(line) }));
}

main().catch((error) => {
  console.error(`error: ${(error as Error).message}`);
  process.exit(1);
});
