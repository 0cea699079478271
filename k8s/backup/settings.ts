import { longestCronGapSeconds, StackConfig } from "../../config/schema";

/** What the backup job needs to know, in the cluster and locally alike. */
export interface BackupSettings {
  /** 5-field cron, UTC. */
  schedule: string;
  keepHourly: number;
  keepDaily: number;
  /** Folder inside the bucket. */
  prefix: string;
  /** The BackupTooOld threshold: two scheduled intervals plus a run's own time. */
  maxAgeSeconds: number;
}

export const BACKUP_PREFIX = "backups";
/** Room for one run (dump, two loads, uploads) on top of the schedule's interval. */
const RUN_ALLOWANCE_SECONDS = 1800;

export function backupSettings(cfg: Pick<StackConfig, "backupSchedule" | "backupKeepHourly" | "backupKeepDaily">): BackupSettings {
  return {
    schedule: cfg.backupSchedule,
    keepHourly: cfg.backupKeepHourly,
    keepDaily: cfg.backupKeepDaily,
    prefix: BACKUP_PREFIX,
    maxAgeSeconds: 2 * longestCronGapSeconds(cfg.backupSchedule) + RUN_ALLOWANCE_SECONDS,
  };
}
