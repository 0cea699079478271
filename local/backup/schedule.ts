import { CronExpressionParser } from "cron-parser";
import * as fs from "fs";
import { BackupCronPlan, backupCronPlans, CRONJOB_NAME } from "../../k8s/backup/backupJob";
import { backupIdFrom, LocalBackupOptions, runBackupScript } from "./job";

/**
 * The backup CronJobs on this machine (k8s/backup/backupJob.ts declares them): `backup.sh run`
 * at every tick of the stack's backupSchedule and `backup.sh run --after-gap` every minute (UTC).
 * Each plan runs one at a time (a tick that finds its run still going is skipped, as
 * concurrencyPolicy Forbid does). Each run's output is appended to `logFile`.
 */
export class BackupSchedule {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly plans: BackupCronPlan[];
  private stopped = false;

  constructor(
    private readonly job: LocalBackupOptions,
    private readonly logFile: string,
    private readonly report: (line: string) => void,
  ) {
    this.plans = backupCronPlans(job.settings);
  }

  start(): void {
    this.stopped = false;
    for (const plan of this.plans) this.scheduleNext(plan);
  }

  /** The scheduled run's next time, for the banner. */
  nextRun(): Date {
    return nextTick(this.plans.find((p) => p.name === CRONJOB_NAME)!);
  }

  private scheduleNext(plan: BackupCronPlan): void {
    if (this.stopped) return;
    const delay = Math.max(0, nextTick(plan).getTime() - Date.now());
    this.timers.set(
      plan.name,
      setTimeout(() => {
        if (this.running.has(plan.name)) this.report(`${plan.name}: previous run still going; this tick is skipped (Forbid)`);
        else this.running.set(plan.name, this.runOnce(plan).finally(() => this.running.delete(plan.name)));
        this.scheduleNext(plan);
      }, delay),
    );
  }

  private async runOnce(plan: BackupCronPlan): Promise<void> {
    const result = await runBackupScript(this.job, plan.args);
    fs.appendFileSync(this.logFile, result.output);
    const id = backupIdFrom(result.output);
    // The after-gap plan mostly finds nothing to do: only a backup or a failure is news.
    if (result.code !== 0) this.report(`${plan.name}: backup run failed (exit ${result.code}); see ${this.logFile}`);
    else if (id) this.report(`${plan.name}: backup ${id} taken and verified`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    await Promise.all(this.running.values());
  }
}

const nextTick = (plan: BackupCronPlan) => CronExpressionParser.parse(plan.schedule, { tz: "UTC" }).next().toDate();
