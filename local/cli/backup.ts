import * as path from "path";
import { stackFileConfig } from "../../config/stackFile";
import { backupCommands } from "../../ops/backupCommands";
import { runCommandTable } from "../../scripts/commandTable";
import { localBackupRunner } from "../backup/runner";
import { joinRootlessRun } from "../cluster/rootless";

const ABOUT = `Backups of the local topology (npm start), by the CronJob's own script, into the local
object store that stands in for the backup region (.local/<stack>/objects).`;

/** `npm run backup -- COMMAND`: the backup commands of ops, against the npm start topology. */
async function main(): Promise<number> {
  const commands = backupCommands(async (stack) => {
    // A rootless npm start's pods are in its namespaces: this command joins them first.
    await joinRootlessRun(path.resolve(".local", stack));
    return localBackupRunner(stackFileConfig(stack), stack);
  });
  return runCommandTable("npm run backup --", commands, process.argv.slice(2), ABOUT);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`error: ${(error as Error).message}`);
    process.exit(1);
  },
);
