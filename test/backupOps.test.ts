import { CRONJOB_NAME } from "../k8s/backup/backupJob";
import { describe, expect, it } from "vitest";
import { Job } from "kubernetes-models/batch/v1";
import { BackupRunner, backupCommand, jobFromCronJob, loggedOffsets, undoReport } from "../ops/backup";
import { archiveWindow, StatusReport, statusLines } from "../ops/statusCommand";
import { plain } from "./helpers/k8sObjects";
import { one, renderStack } from "./helpers/pulumiMocks";

// The operator's backup commands: what they run, and that restore asks first.
describe("ops backup", () => {
  it("runs backup.sh in a one-off Job that is the CronJob's own pod with another command", async () => {
    const rendered = await renderStack("dev");
    const cron = plain(one(rendered, "kubernetes:batch/v1:CronJob", CRONJOB_NAME).inputs);
    const job = jobFromCronJob(cron, ["restore", "latest"], "redis-backup-restore-x") as any;
    expect(() => new Job(job).validate()).not.toThrow();
    expect(job.metadata).toMatchObject({ name: "redis-backup-restore-x", namespace: "redis-dr" });
    const pod = job.spec.template.spec;
    const scheduled = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.containers[0].command).toEqual(["bash", "/scripts/backup.sh", "restore", "latest"]);
    expect({ ...pod.containers[0], command: undefined }).toEqual({ ...scheduled.containers[0], command: undefined });
    expect(pod.initContainers).toEqual(scheduled.initContainers);
    expect(pod.volumes).toEqual(scheduled.volumes);
    expect(job.spec.backoffLimit).toBe(0);
    // The CronJob itself is untouched.
    expect(scheduled.containers[0].command).toEqual(["bash", "/scripts/backup.sh", "run"]);
  });

  const recording = (): BackupRunner & { calls: string[][] } => {
    const calls: string[][] = [];
    return { where: "test", calls, run: async (args) => (calls.push(args), { code: 0, output: "20261125T230000Z\n" }) };
  };

  it("restores only once confirmed: a non-interactive run without --yes changes nothing", async () => {
    const runner = recording();
    const lines: string[] = [];
    expect(await backupCommand(runner, "restore", "latest", { stack: "dev", yes: false, print: (l) => lines.push(l) })).toBe(2);
    expect(runner.calls).toEqual([]);
    expect(lines.join("\n")).toMatch(/not confirmed; nothing restored/);
    expect(await backupCommand(runner, "restore", "latest", { stack: "dev", yes: true, print: () => {} })).toBe(0);
    expect(runner.calls).toEqual([["restore", "latest"]]);
  });

  it("restores to a time with --at, and refuses a backup and a time together or a time it cannot read, running nothing", async () => {
    const runner = recording();
    const quiet = { stack: "dev", yes: true, print: () => {} };
    await expect(backupCommand(runner, "restore", "latest", { ...quiet, at: "2026-12-04T21:30:00Z" })).rejects.toThrow(/only one of them/);
    await expect(backupCommand(runner, "restore", undefined, { ...quiet, at: "yesterday-ish" })).rejects.toThrow(/not a time/);
    expect(runner.calls).toEqual([]);
    expect(await backupCommand(runner, "restore", undefined, { ...quiet, at: "2026-12-04T21:30:00Z" })).toBe(0);
    expect(runner.calls).toEqual([["restore", "--at", "2026-12-04T21:30:00Z"]]);
  });

  it("undoes only named offsets and only once confirmed; log and --skip pass only what backup.sh can read", async () => {
    const runner = recording();
    const lines: string[] = [];
    const quiet = { stack: "dev", yes: true, print: () => {} };
    await expect(backupCommand(runner, "undo", undefined, quiet)).rejects.toThrow(/needs the offsets/);
    await expect(backupCommand(runner, "undo", "12ab", quiet)).rejects.toThrow(/needs the offsets/);
    await expect(backupCommand(runner, "restore", undefined, { ...quiet, at: "latest", skip: "1,x" })).rejects.toThrow(/must be offsets/);
    await expect(backupCommand(runner, "restore", "latest", { ...quiet, skip: "1" })).rejects.toThrow(/--skip needs --at/);
    await expect(backupCommand(runner, "log", undefined, { ...quiet, since: "an hour ago" })).rejects.toThrow(/not a time/);
    expect(await backupCommand(runner, "undo", "100", { stack: "dev", yes: false, offsets: ["200"], print: (l) => lines.push(l) })).toBe(2);
    expect(lines.join("\n")).toMatch(/not confirmed; nothing undone/);
    expect(runner.calls).toEqual([]);
    expect(await backupCommand(runner, "undo", "100", { ...quiet, offsets: ["200"] })).toBe(0);
    expect(await backupCommand(runner, "restore", undefined, { ...quiet, at: "latest", skip: "7 9" })).toBe(0);
    await expect(backupCommand(runner, "restore", "latest", { ...quiet, allowGap: true })).rejects.toThrow(/--allow-gap needs --at/);
    expect(await backupCommand(runner, "restore", undefined, { ...quiet, at: "latest", allowGap: true })).toBe(0);
    expect(await backupCommand(runner, "log", undefined, { ...quiet, since: "2026-12-04T21:30:00Z", match: "FLUSHALL" })).toBe(0);
    expect(runner.calls).toEqual([
      ["undo", "100", "200"],
      ["restore", "--at", "latest", "--skip", "7,9"],
      ["restore", "--at", "latest", "--allow-gap"],
      ["log", "--since", "2026-12-04T21:30:00Z", "--match", "FLUSHALL"],
    ]);
  });

  it("reads the offsets of one command from backup.sh log, and undo's closing figures", () => {
    const log = "2026-12-04T21:30:00.120Z\t1044\t0\tSET\tkv:1\n2026-12-04T21:30:00.250Z\t2088\t0\tFLUSHALL\t\n2026-12-04T21:30:01.000Z\t3000\t1\tFLUSHALL\t\n";
    expect(loggedOffsets(log, "FLUSHALL")).toEqual(["2088", "3000"]);
    expect(loggedOffsets(log, "DEL")).toEqual([]);
    const undone = "backup[redis-backup] undo: base backup 20261204T210000Z (offset 12); leaving out 2088\nundone at offset 3100: 1 command(s) left out; 938 key(s) set and 0 deleted in 1 script(s) of at most 10000 keys; the longest held writes for 10 ms (all 10 ms; sent and answered in 41 ms; attempt 1)\n";
    expect(undoReport(undone)).toEqual({ base: "20261204T210000Z", keysSet: 938, heldMs: 10 });
  });

  it("reports a backup taken by `now` only once the run verified it", async () => {
    const lines: string[] = [];
    const failing: BackupRunner = { where: "test", run: async () => ({ code: 1, output: "backup run failed\n" }) };
    expect(await backupCommand(failing, "now", undefined, { stack: "dev", yes: false, print: (l) => lines.push(l) })).toBe(1);
    expect(lines.join("\n")).not.toMatch(/verified backup/);
    const runner = recording();
    expect(await backupCommand(runner, "now", undefined, { stack: "dev", yes: false, print: (l) => lines.push(l) })).toBe(0);
    expect(runner.calls).toEqual([["run"]]);
    expect(lines.at(-1)).toBe("verified backup: 20261125T230000Z");
  });

  it("puts the window backup.sh window printed in ops status --archive, and a run that failed as the reason", async () => {
    const window = "2026-12-07T10:00:00Z (backup 20261207T100000Z) to 2026-12-07T11:23:45.120Z (the newest archived write, offset 9120, 2 s ago)";
    const printed: BackupRunner = { where: "test", run: async (args) => ({ code: args[0] === "window" ? 0 : 2, output: `backup[x] listing\nrestorable: ${window}\n` }) };
    const failed: BackupRunner = { where: "namespace redis-dr", run: async () => ({ code: 1, output: "backup[redis-backup] window: cannot list store:b/backups\n" }) };
    const base: StatusReport = { stack: "dev", cluster: { id: 1, label: "c", status: "ready", k8sVersion: "1.33", pools: [] }, service: { error: "x" }, nodeBalancer: { error: "y" } };
    expect(statusLines({ ...base, archive: await archiveWindow(printed) }).at(-1)).toBe(`archive restorable: ${window}`);
    expect(statusLines({ ...base, archive: await archiveWindow(failed) }).at(-1)).toBe(
      "archive: backup.sh window on namespace redis-dr failed: backup[redis-backup] window: cannot list store:b/backups",
    );
    expect(statusLines(base).some((line) => line.startsWith("archive"))).toBe(false);
  });
});

