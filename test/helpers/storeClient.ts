import { execFile } from "child_process";
import { promisify } from "util";
import { LocalBackupOptions, localBackupEnvironment } from "../../local/backup/job";

/** rclone's result: its exit status and what it printed. */
export interface RcloneResult {
  status: number;
  stdout: Buffer;
}

/**
 * rclone with a job's own store settings (its "store" remote, from the environment) and nothing
 * else of this shell's. Asynchronous: the S3 server runs in the test's process, so a synchronous
 * child would deadlock it.
 */
export function storeClient(job: () => LocalBackupOptions): (...args: string[]) => Promise<RcloneResult> {
  const storeEnv = () =>
    Object.fromEntries(
      Object.entries(localBackupEnvironment(job())).filter(([k, v]) => v !== undefined && (k.startsWith("RCLONE_CONFIG_STORE_") || k.startsWith("BACKUP_"))),
    ) as Record<string, string>;
  return (...args) =>
    promisify(execFile)("rclone", ["-q", ...args], { env: { PATH: process.env.PATH, RCLONE_CONFIG: "/dev/null", ...storeEnv() }, encoding: "buffer" }).then(
      (r) => ({ status: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: Buffer }) => ({ status: e.code ?? 1, stdout: e.stdout ?? Buffer.alloc(0) }),
    );
}
