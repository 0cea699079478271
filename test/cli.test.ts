import { spawnSync } from "child_process";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/stackConfig";

// Every command a user types answers --help and refuses an unknown option with its usage and
// exit code 2, never a stack trace. (Run through tsx, as the npm scripts do, without their bootstrap.)
const COMMANDS: Array<[string, string]> = [
  ["npm start", "local/cli/start.ts"],
  ["npm run drill", "local/cli/drill.ts"],
  ["npm run bench", "local/cli/bench.ts"],
  ["npm run ops", "ops/main.ts"],
  ["npm run backup", "local/cli/backup.ts"],
  ["npm run switchover", "local/cli/switchover.ts"],
  ["npm run bench:backup", "local/cli/benchBackup.ts"],
];
const TSX = path.join(REPO_ROOT, "node_modules/.bin/tsx");
const run = (entry: string, ...args: string[]) => spawnSync(TSX, [entry, ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 });

describe.each(COMMANDS)("%s", (command, entry) => {
  it("answers --help with its usage and options, exit 0", () => {
    const result = run(entry, "--help");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^usage: ${command.replace(/ /g, " ")}`));
    expect(result.stdout).toMatch(/--help/);
  });

  it("refuses an unknown option with the usage and exit 2, no stack trace", () => {
    const result = run(entry, "--no-such-option");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/Unknown option '--no-such-option'/);
    expect(result.stderr).toMatch(/usage: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("npm run ops", () => {
  it("refuses a missing or unknown command with exit 2", () => {
    expect(run("ops/main.ts").status).toBe(2);
    const unknown = run("ops/main.ts", "restart");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command or extra argument: restart/);
  });

  it("gives each command only its own options: one another command takes is refused with this one's usage", () => {
    const status = run("ops/main.ts", "status", "--to", "redis-1");
    expect(status.status).toBe(2);
    expect(status.stderr).toMatch(/Unknown option '--to'/);
    expect(status.stderr).toMatch(/^usage: npm run ops -- status/m);
    expect(run("ops/main.ts", "switchover", "extra").stderr).toMatch(/extra argument: extra/);
    const help = (command: string) => run("ops/main.ts", command, "--help");
    expect(help("switchover").stdout).toMatch(/--to POD/);
    const statusHelp = help("status").stdout;
    expect(statusHelp).not.toMatch(/--to/);
    expect(statusHelp).toMatch(/--sentinel HOST:PORT/);
  });
});

describe("npm run backup", () => {
  it("refuses a missing or unknown command with exit 2, and says when no topology runs", () => {
    expect(run("local/cli/backup.ts").status).toBe(2);
    expect(run("local/cli/backup.ts", "snapshot").stderr).toMatch(/unknown command or extra argument: snapshot/);
    const none = run("local/cli/backup.ts", "list", "--stack", "prod");
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no local topology for stack prod in .*; start the topology with: npm start -- --stack prod/);
  });

  it("gives each backup command only its own options, here and under ops", () => {
    const list = run("local/cli/backup.ts", "list", "--at", "latest");
    expect(list.status).toBe(2);
    expect(list.stderr).toMatch(/Unknown option '--at'/);
    expect(list.stderr).toMatch(/^usage: npm run backup -- list/m);
    expect(run("local/cli/backup.ts", "verify").stderr).toMatch(/verify needs ID/);
    expect(run("local/cli/backup.ts", "restore", "--help").stdout).toMatch(/--at TIME/);
    expect(run("local/cli/backup.ts", "list", "--help").stdout).not.toMatch(/--at/);
    const log = run("ops/main.ts", "backup", "log", "--yes");
    expect(log.status).toBe(2);
    expect(log.stderr).toMatch(/Unknown option '--yes'/);
    expect(log.stderr).toMatch(/^usage: npm run ops -- backup log/m);
    expect(run("ops/main.ts", "backup", "--help").stdout).toMatch(/^usage: npm run ops -- backup <command>/);
  });
});
