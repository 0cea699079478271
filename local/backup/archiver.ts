import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ArchiveTiming, archiverTimingEnvironment } from "../../k8s/backup/settings";
import { SCRIPT_DIR } from "../../k8s/redis/render";
import { ADMIN_USER } from "../../probe/connection";
import { cpuSecondsOf } from "../measure/processCpu";
import { ARCHIVER_BINARY, LocalBackupOptions, localBackupEnvironment } from "./job";

export interface LocalArchiverOptions {
  job: LocalBackupOptions;
  /** The spool the archiver writes and the shipper empties; logs go beside it. */
  spoolDir: string;
  timing: ArchiveTiming;
}

/** How far the store reaches, as the shipper last recorded it (archive.sh's shipped.json). */
export interface ShippedRecord {
  endOffset: number;
  /** When the newest stored write reached the archiver (ms since the epoch). */
  lastAtMs: number;
  /** How long the pass that stored it took. */
  passMs: number;
}

/**
 * The continuous archive beside a local topology: redis-dr-archiver following one of its
 * replicas, and archive.sh shipping the spool into the job's object store, as the archiver's
 * pod runs them (docs/archive.md).
 */
export class LocalArchiver {
  private follower?: ChildProcess;
  private shipper?: ChildProcess;

  constructor(private readonly opts: LocalArchiverOptions) {}

  private environment(): NodeJS.ProcessEnv {
    const job = localBackupEnvironment(this.opts.job);
    return {
      ...job,
      REDIS_NODES: this.opts.job.target.nodes.join(","),
      ARCHIVER_USER: ADMIN_USER,
      ARCHIVE_SPOOL_DIR: this.opts.spoolDir,
      ...archiverTimingEnvironment(this.opts.timing),
      ARCHIVE_SHIP_MS: String(this.opts.timing.shipMs),
      ARCHIVE_MAX_LAG_SECONDS: String(this.opts.timing.alertLagSeconds),
    };
  }

  /** Runs where the backup job runs (beside host processes, or in a namespace with cluster DNS). */
  private spawnLogged(name: string, command: string, args: string[]): ChildProcess {
    const log = fs.openSync(path.join(path.dirname(this.opts.spoolDir), `${name}.log`), "a");
    const wrapped = this.opts.job.target.wrap(command, args);
    const child = spawn(wrapped.command, wrapped.args, { env: this.environment(), stdio: ["ignore", log, log] });
    fs.closeSync(log);
    return child;
  }

  /** Resume from the store if the spool is new, then follow and ship. */
  async start(): Promise<void> {
    fs.mkdirSync(this.opts.spoolDir, { recursive: true, mode: 0o700 });
    const resume = this.spawnLogged("archive-resume", "bash", [path.join(SCRIPT_DIR, "archive.sh"), "resume"]);
    const code = await new Promise<number | null>((resolve) => resume.on("exit", resolve));
    if (code !== 0) throw new Error(`archive.sh resume exited ${code}; see ${path.dirname(this.opts.spoolDir)}/archive-resume.log`);
    this.follower = this.spawnLogged("archiver", ARCHIVER_BINARY, ["follow"]);
    this.shipper = this.spawnLogged("archive-ship", "bash", [path.join(SCRIPT_DIR, "archive.sh"), "ship"]);
  }

  /** CPU seconds used so far by the archiver and by the shipper with its children (its uploader coprocess, and any it has reaped). */
  cpuSeconds(): { archiver: number; shipper: number } {
    return { archiver: cpuSecondsOf(this.follower?.pid), shipper: cpuSecondsOf(this.shipper?.pid, true) };
  }

  /**
   * Whether everything up to the replication offset OFFSET is in the store: the archiver's
   * position is past it and no segment that starts before it waits in the spool (newer ones,
   * a PING's, may: segments keep coming).
   */
  shippedThrough(offset: number): boolean {
    const position = path.join(this.opts.spoolDir, "position.json");
    if (!fs.existsSync(position)) return false;
    const at = (JSON.parse(fs.readFileSync(position, "utf8")) as { offset: number }).offset;
    const waiting = fs.readdirSync(this.opts.spoolDir).filter((name) => /^\d{20}-[0-9a-f]{40}\.resp$/.test(name) && Number(name.slice(0, 20)) < offset);
    return at >= offset && waiting.length === 0;
  }

  /** The shipper's last record, if it has stored a segment yet. */
  shipped(): ShippedRecord | undefined {
    const file = path.join(this.opts.spoolDir, "shipped.json");
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ShippedRecord) : undefined;
  }

  /**
   * SIGTERM both, the archiver first so the shipper's last pass takes what it closed; SIGKILL
   * (the region is lost with the pod) ships nothing more.
   */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    for (const child of [this.follower, this.shipper]) {
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill(signal);
      await exited;
    }
    this.follower = this.shipper = undefined;
  }
}
