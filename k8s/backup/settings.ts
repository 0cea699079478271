import { longestCronGapSeconds, StackConfig } from "../../config/schema";
import { REPLICA_PING_PERIOD_SECONDS } from "../redis/render";

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
  /** The longest one run may take (the Job's activeDeadlineSeconds). */
  runDeadlineSeconds: number;
  /** A drop in keys or bytes of at least this percent marks a backup suspect. */
  shrinkAlarmPercent: number;
}

export const BACKUP_PREFIX = "backups";
/** Folder of the continuous archive inside the same bucket (archivestore.sh). */
export const ARCHIVE_PREFIX = "archive";
/** The longest one run (dump, two loads, uploads) may take; also its room on top of the schedule's interval. */
const RUN_ALLOWANCE_SECONDS = 1800;

export function backupSettings(cfg: Pick<StackConfig, "backupSchedule" | "backupKeepHourly" | "backupKeepDaily" | "backupShrinkAlarmPercent">): BackupSettings {
  return {
    schedule: cfg.backupSchedule,
    keepHourly: cfg.backupKeepHourly,
    keepDaily: cfg.backupKeepDaily,
    prefix: BACKUP_PREFIX,
    maxAgeSeconds: 2 * longestCronGapSeconds(cfg.backupSchedule) + RUN_ALLOWANCE_SECONDS,
    runDeadlineSeconds: RUN_ALLOWANCE_SECONDS,
    shrinkAlarmPercent: cfg.backupShrinkAlarmPercent,
  };
}

/**
 * How the archiver meets archiveIntervalMs: a segment closes at a quarter of it, the shipper
 * looks every tenth, which leaves the upload more than half of it (a pass takes 0.2-0.7 s on a
 * loaded node here; docs/archive.md).
 */
export interface ArchiveTiming {
  /** A segment closes this long after its first write. */
  segmentMs: number;
  /**
   * ...and this long after its first command when it holds no write: an idle master's stream
   * carries only Sentinel's hellos and the replica pings, and one object every segmentMs for
   * those would be most of the store's objects and the shipper's work. The ping period, which
   * the lag threshold below already allows for.
   */
  idleSegmentMs: number;
  shipMs: number;
  /**
   * The ArchiveLagging threshold: ten intervals behind, plus the replica ping period (an idle
   * master's stream moves only then, so the newest stored write ages that long with nothing
   * wrong) and the shipper's one push a second.
   */
  alertLagSeconds: number;
}

export function archiveTiming(cfg: Pick<StackConfig, "archiveIntervalMs">): ArchiveTiming {
  return {
    segmentMs: Math.floor(cfg.archiveIntervalMs / 4),
    idleSegmentMs: REPLICA_PING_PERIOD_SECONDS * 1000,
    shipMs: Math.max(20, Math.floor(cfg.archiveIntervalMs / 10)),
    alertLagSeconds: Math.ceil((10 * cfg.archiveIntervalMs) / 1000) + REPLICA_PING_PERIOD_SECONDS + 1,
  };
}

/** redis-dr-archiver's environment for these timings (the Deployment's and the local archiver's). */
export function archiverTimingEnvironment(timing: ArchiveTiming): Record<string, string> {
  return { ARCHIVE_SEGMENT_MS: String(timing.segmentMs), ARCHIVE_IDLE_SEGMENT_MS: String(timing.idleSegmentMs) };
}

/** Keys of the Kubernetes Secret that holds the Object Storage key. */
export const STORE_SECRET_NAME = "redis-backup-store";
export const STORE_SECRET_KEYS = { accessKeyId: "access-key-id", secretAccessKey: "secret-access-key" } as const;

/** Where a bucket is: enough for rclone's S3 remote, without the key. */
export interface StoreLocation {
  endpoint: string;
  bucket: string;
  region: string;
}

/**
 * objectstore.sh's environment for one bucket, less the key: rclone's remote "store" from
 * environment variables (no config file). Path-style requests work on every S3-compatible
 * store (Linode, MinIO, Ceph); virtual-host style needs wildcard DNS.
 */
export function storeVariables(store: StoreLocation): Record<string, string> {
  return {
    BACKUP_BUCKET: store.bucket,
    RCLONE_CONFIG_STORE_TYPE: "s3",
    RCLONE_CONFIG_STORE_PROVIDER: "Other",
    RCLONE_CONFIG_STORE_ENDPOINT: store.endpoint,
    RCLONE_CONFIG_STORE_REGION: store.region,
    RCLONE_CONFIG_STORE_FORCE_PATH_STYLE: "true",
  };
}

/** The variables that carry the key; in the cluster they come from STORE_SECRET_NAME. */
export const STORE_KEY_VARIABLES = { accessKeyId: "RCLONE_CONFIG_STORE_ACCESS_KEY_ID", secretAccessKey: "RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY" } as const;

/** The settings backup.sh reads from its environment, in the cluster and locally alike. */
export function backupJobVariables(settings: BackupSettings): Record<string, string> {
  return {
    BACKUP_PREFIX: settings.prefix,
    ARCHIVE_PREFIX,
    BACKUP_KEEP_HOURLY: String(settings.keepHourly),
    BACKUP_KEEP_DAILY: String(settings.keepDaily),
    BACKUP_MAX_AGE_SECONDS: String(settings.maxAgeSeconds),
    BACKUP_RUN_DEADLINE_SECONDS: String(settings.runDeadlineSeconds),
    BACKUP_SHRINK_ALARM_PERCENT: String(settings.shrinkAlarmPercent),
  };
}
