import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { ARCHIVE_PREFIX, archiveTiming, backupSettings } from "../../k8s/backup/settings";
import { waitFor } from "../../probe/wait";
import { LocalArchiver } from "../backup/archiver";
import { LocalObjectStore } from "../backup/objectStore";
import { ClusterTopology } from "../cluster/topology";
import { cpuSecondsOf, processesNamed } from "./processCpu";

/** One wrk run's figures. */
export interface PutRun {
  rps: number;
  p99: number;
  errors: number;
}

/** A run's figures with the CPU share every redis-server took meanwhile (master and replicas together). */
interface MeasuredRun extends PutRun {
  redisCpu: number;
}

/** One run with the archive on: the PUT figures, how far behind the store was at its end, and each part's CPU. */
interface ArchivedRun extends MeasuredRun {
  behindMs?: number;
  cpu: { archiver: number; shipper: number; store: number };
}

const IDLE_SECONDS = 5;

/** One concurrency level: every run without the archive and every run with it. */
export interface OverheadLevel {
  concurrency: number;
  off: MeasuredRun[];
  on: ArchivedRun[];
}

export interface ArchiveOverhead {
  levels: OverheadLevel[];
  /** Each part's CPU share while the archive runs with no writes. */
  idle: ArchivedRun["cpu"];
}

export interface ArchiveOverheadOptions {
  topology: ClusterTopology;
  baseDir: string;
  cfg: StackConfig;
  levels: number[];
  /** Runs of each kind per level; they alternate off/on, on/off, so drift over the bench falls on both. */
  trials: number;
  put: (concurrency: number) => Promise<PutRun>;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * PUT throughput with and without redis-dr-archiver following a replica and the shipper
 * uploading to a local S3-compatible store, in alternating runs of the same level. Each run
 * with the archive starts it on an empty spool and an empty archive (its full sync of the small
 * bench dataset is over before the run), so no run pays for catching up on an earlier one.
 */
export async function measureArchiveOverhead(opts: ArchiveOverheadOptions): Promise<ArchiveOverhead> {
  const { topology, baseDir, cfg } = opts;
  const store = new LocalObjectStore(path.join(baseDir, "objects"), "redis-dr-bench-archive", 19532, topology.hostAddress);
  await store.start();
  const job = { target: topology.backupTarget(), store: store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "scratch") };
  /** PUT at one level, with the redis-servers' CPU share meanwhile (their work for the archive: the stream the upstream replica sends on). */
  const measured = async (put: () => Promise<PutRun>): Promise<MeasuredRun> => {
    const servers = processesNamed("redis-server");
    const cpu = () => servers.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
    const [before, startedAt] = [cpu(), Date.now()];
    const result = await put();
    return { ...result, redisCpu: (cpu() - before) / ((Date.now() - startedAt) / 1000) };
  };
  let run = 0;
  const archived = async (concurrency: number | undefined): Promise<ArchivedRun> => {
    fs.rmSync(path.join(store.directory, store.bucket, ARCHIVE_PREFIX), { recursive: true, force: true });
    const spoolDir = path.join(baseDir, `archive-${run++}`, "spool");
    const archiver = new LocalArchiver({ job, spoolDir, timing: archiveTiming(cfg) });
    try {
      await archiver.start();
      await waitFor("the archiver to follow a replica", async () => fs.existsSync(path.join(spoolDir, "position.json")), 60_000);
      const [before, storeBefore, startedAt] = [archiver.cpuSeconds(), cpuSecondsOf(store.pid), Date.now()];
      // No concurrency: the archive idling for IDLE_SECONDS, with no writes.
      const result = await measured(() =>
        concurrency === undefined ? new Promise<PutRun>((resolve) => setTimeout(() => resolve({ rps: 0, p99: 0, errors: 0 }), IDLE_SECONDS * 1000)) : opts.put(concurrency),
      );
      const [after, storeAfter, seconds] = [archiver.cpuSeconds(), cpuSecondsOf(store.pid), (Date.now() - startedAt) / 1000];
      const shipped = archiver.shipped();
      return {
        ...result,
        behindMs: shipped && Date.now() - shipped.lastAtMs,
        cpu: { archiver: (after.archiver - before.archiver) / seconds, shipper: (after.shipper - before.shipper) / seconds, store: (storeAfter - storeBefore) / seconds },
      };
    } finally {
      await archiver.stop();
    }
  };
  const levels: OverheadLevel[] = [];
  try {
    const { cpu: idle } = await archived(undefined);
    for (const concurrency of opts.levels) {
      const level: OverheadLevel = { concurrency, off: [], on: [] };
      process.stdout.write(`  concurrency ${concurrency}: with and without the archive, ${opts.trials} run(s) each...`);
      for (let trial = 0; trial < opts.trials; trial++) {
        const offFirst = trial % 2 === 0;
        if (offFirst) level.off.push(await measured(() => opts.put(concurrency)));
        level.on.push(await archived(concurrency));
        if (!offFirst) level.off.push(await measured(() => opts.put(concurrency)));
      }
      console.log(" done");
      levels.push(level);
    }
    return { levels, idle };
  } finally {
    await store.stop();
  }
}

/** Throughput cost of the archive at one level: 1 - median(on) / median(off). */
export function archiveCost(level: OverheadLevel): number {
  return 1 - median(level.on.map((r) => r.rps)) / median(level.off.map((r) => r.rps));
}

export function overheadTable(cfg: StackConfig, { levels, idle }: ArchiveOverhead): string {
  const rps = (runs: PutRun[]) => {
    const values = runs.map((r) => r.rps);
    return `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)})`;
  };
  const percent = (share: number) => `${(share * 100).toFixed(0)}%`;
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const meanCpu = (runs: ArchivedRun[], part: keyof ArchivedRun["cpu"]) => percent(mean(runs.map((r) => r.cpu[part])));
  const trials = levels[0]?.off.length ?? 0;
  return [
    `PUT /kv/{key} through the service with the continuous archive on (archiveIntervalMs ${cfg.archiveIntervalMs}; the store is s3rver in a process of its own, on the same cores) and off, in ${trials} alternating run(s) of each per level: median req/s (lowest-highest)`,
    "",
    "| concurrency | off req/s | on req/s | cost (medians) | on p99 ms (median) | on errors | store behind at the end ms (max) | CPU % of a core (mean): archiver, shipper, store | redis-servers' CPU % off, on (mean) |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ...levels.map((level) => {
      const behind = level.on.map((r) => r.behindMs).filter((ms): ms is number => ms !== undefined);
      const parts = (["archiver", "shipper", "store"] as const).map((part) => meanCpu(level.on, part)).join(", ");
      const redis = [level.off, level.on].map((runs) => percent(mean(runs.map((r) => r.redisCpu)))).join(", ");
      return `| ${level.concurrency} | ${rps(level.off)} | ${rps(level.on)} | ${(archiveCost(level) * 100).toFixed(1)}% | ${median(level.on.map((r) => r.p99)).toFixed(2)} | ${level.on.reduce((sum, r) => sum + r.errors, 0)} | ${behind.length ? Math.max(...behind) : "nothing stored"} | ${parts} | ${redis} |`;
    }),
    "",
    `With no writes for ${IDLE_SECONDS} s the archiver took ${percent(idle.archiver)} of a core, the shipper ${percent(idle.shipper)} and the store ${percent(idle.store)}.`,
  ].join("\n");
}
