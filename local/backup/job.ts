import * as path from "path";
import { BACKUP_IDENTITY_VARIABLES, BACKUP_SECRET_VARIABLES, POD_NAME_VARIABLE, scriptEnvironment } from "../../k8s/redis/podEnvironment";
import { SCRIPT_DIR } from "../../k8s/redis/render";
import { BackupSettings, backupJobVariables } from "../../k8s/backup/settings";
import { ObjectStoreAccess, objectStoreEnvironment } from "./objectStore";
import { podPassword } from "../credentials";
import { runCollecting, ScriptResult } from "../scriptProcess";
import { StackConfig } from "../../config/schema";

/** The archiver binary `npm run app:build` makes (redis-dr-archiver: follow and replay). */
export const ARCHIVER_BINARY = path.resolve(__dirname, "../../app/build/redis-dr-archiver");

/** The archive's uploader `npm run app:build` makes (redis-dr-uploader, the shipper's coprocess). */
export const UPLOADER_BINARY = path.resolve(__dirname, "../../app/build/redis-dr-uploader");

/** Tools the images have on their PATH that this machine has elsewhere: the archive's replayer and uploader. */
export const LOCAL_TOOL_VARIABLES = { ARCHIVER: ARCHIVER_BINARY, ARCHIVE_UPLOADER: UPLOADER_BINARY } as const;

/** backup.sh's own output format, read where the commands are (ops/backup.ts). */
export { backupIdFrom } from "../../ops/backup";

export type { ScriptResult };

/** What the backup job reaches and how it runs: beside host processes, or in a namespace with cluster DNS. */
export interface BackupTarget {
  settings: StackConfig;
  /** The Redis pods' stable names (addresses for host processes, FQDNs in the cluster runtime). */
  nodes: string[];
  redisPassword: string;
  sentinelPassword: string;
  /** The command line that runs COMMAND where the CronJob's pod would be. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
}

/** The backup job against NODES, with the passwords of a Redis pod's environment, run through WRAP (as is, by default). */
export function backupTarget(
  settings: StackConfig,
  nodes: string[],
  podEnv: Record<string, string | undefined>,
  wrap: BackupTarget["wrap"] = (command, args) => ({ command, args }),
): BackupTarget {
  return { settings, nodes, redisPassword: podEnv.REDIS_PASSWORD!, sentinelPassword: podEnv.SENTINEL_PASSWORD!, wrap };
}

export interface LocalBackupOptions {
  target: BackupTarget;
  store: ObjectStoreAccess;
  settings: BackupSettings;
  /** Working space for dumps and the scratch redis-server. */
  scratchDir: string;
  /** host:port of a Pushgateway, if metrics should be pushed. */
  pushgateway?: string;
}

/** backup.sh's environment as the CronJob's pod gets it, for a job that runs beside the local pods. */
export function localBackupEnvironment(opts: LocalBackupOptions): NodeJS.ProcessEnv {
  const { target, settings } = opts;
  return {
    // Only what the pod would have: no proxy, CA-bundle or cloud credentials from this shell.
    PATH: process.env.PATH,
    ...scriptEnvironment(target.settings, target.nodes),
    [POD_NAME_VARIABLE]: "redis-backup",
    ...Object.fromEntries(Object.entries(BACKUP_SECRET_VARIABLES).map(([name, password]) => [name, podPassword(target, password)])),
    ...BACKUP_IDENTITY_VARIABLES,
    ...objectStoreEnvironment(opts.store),
    ...backupJobVariables(settings),
    SCRATCH_DIR: opts.scratchDir,
    ...LOCAL_TOOL_VARIABLES,
    ...(opts.pushgateway ? { PUSHGATEWAY: opts.pushgateway } : {}),
  };
}

/** Run `backup.sh ARGS` as the CronJob's container would; resolves with its exit code and output. */
export function runBackupScript(opts: LocalBackupOptions, args: string[], extraEnv: Record<string, string> = {}, onOutput?: (chunk: string) => void): Promise<ScriptResult> {
  const { command, args: argv } = opts.target.wrap("bash", [path.join(SCRIPT_DIR, "backup.sh"), ...args]);
  return runCollecting(command, argv, { ...localBackupEnvironment(opts), ...extraEnv }, onOutput);
}
