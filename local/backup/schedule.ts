import { CronExpressionParser } from "cron-parser";
import * as fs from "fs";
import { backupIdFrom, LocalBackupOptions, runBackupScript } from "./job";

/**
 * The CronJob's schedule on this machine: runs `backup.sh run` at every tick of the stack's
 * backupSchedule (UTC), one run at a time (a tick that finds a run still going is skipped,
 * as concurrencyPolicy Forbid does). Each run's output is appended to `logFile`.
 */
export class BackupSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly job: LocalBackupOptions,
    private readonly logFile: string,
    private readonly report: (line: string) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.scheduleNext();
  }

  /** The next run's time, for the banner. */
  nextRun(): Date {
    return CronExpressionParser.parse(this.job.settings.schedule, { tz: "UTC" }).next().toDate();
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    const delay = Math.max(0, this.nextRun().getTime() - Date.now());
    this.timer = setTimeout(() => {
      if (this.running) this.report("backup: previous run still going; this tick is skipped (Forbid)");
      else this.running = this.runOnce().finally(() => (this.running = undefined));
      this.scheduleNext();
    }, delay);
  }

  private async runOnce(): Promise<void> {
    const result = await runBackupScript(this.job, ["run"]);
    fs.appendFileSync(this.logFile, result.output);
    const id = backupIdFrom(result.output);
    this.report(result.code === 0 && id ? `backup ${id} taken and verified` : `backup run failed (exit ${result.code}); see ${this.logFile}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
