import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { archiveTiming } from "../../k8s/backup/settings";
import { REDIS_PORT } from "../../k8s/redis/render";
import { withConnection } from "../../probe/connection";
import { waitFor } from "../../probe/wait";
import { loggedOffsets, undoReport } from "../../ops/backup";
import { LocalArchiver } from "../backup/archiver";
import { backupIdFrom, runBackupScript } from "../backup/job";
import { benchRegion } from "./benchRegion";
import { everyPodHolds, fill } from "./dataset";
import { waitForConvergence } from "./sentinelGroupWatch";

/** One size's figures: the undo of a FLUSHALL of every key, then a lost region restored from base plus archive. */
export interface ArchiveBenchRow {
  keys: number;
  /** Commands the seed replayed (the overwrite, the FLUSHALL and the undo's RESTOREs). */
  commandsReplayed: number;
  logMs: number;
  undoMs: number;
  /** How long the undo's script ran on the master, holding writes. */
  heldMs: number;
  keysUndone: number;
  /** The seed: download, replay onto the base, load; then until every pod holds every key. */
  seedMs: number;
  replayMs: number;
  startMs: number;
}

/**
 * n keys backed up (the base), overwritten (n archived SETs), then FLUSHALL: backup log finds
 * it, backup undo takes it back (n keys in one script). Then the region is lost and a new,
 * empty topology is seeded from the base and the whole archive (restore latest).
 */
export async function measureArchive(stack: string, cfg: StackConfig, n: number, baseDir: string): Promise<ArchiveBenchRow> {
  const { dir, creds, store, job, topology, hosts } = await benchRegion(stack, cfg, path.join(baseDir, `archive-${n}`), "redis-dr-bench-archive", 19531);
  let archiver: LocalArchiver | undefined;
  const script = async (args: string[]) => {
    const started = Date.now();
    const result = await runBackupScript(job(), args);
    if (result.code !== 0) throw new Error(`backup.sh ${args.join(" ")} failed: ${result.output}`);
    return { output: result.output, ms: Date.now() - started };
  };
  try {
    topology.prepare();
    await store.start();
    await topology.start();
    const master = (await waitForConvergence(hosts, cfg.masterName, creds, 120_000)).masters[0]!;
    archiver = new LocalArchiver({ job: job(), spoolDir: path.join(dir, "archive", "spool"), timing: archiveTiming(cfg) });
    await archiver.start();
    await fill(master, creds.redisPassword, n);
    await everyPodHolds(hosts, creds.redisPassword, n);
    if (!backupIdFrom((await script(["run"])).output)) throw new Error("no base backup");
    await fill(master, creds.redisPassword, n, 1);
    const flushedFrom = Date.now();
    await withConnection(master, REDIS_PORT, creds.redisPassword, (c) => c.flushall());
    const shippedThrough = async () => {
      const offset = await withConnection(master, REDIS_PORT, creds.redisPassword, async (c) => Number(/master_repl_offset:(\d+)/.exec(await c.info("replication"))![1]));
      await waitFor(`the archive to store offset ${offset}`, async () => archiver!.shippedThrough(offset), 300_000);
    };
    await shippedThrough();

    const log = await script(["log", "--match", "FLUSHALL", "--since", new Date(flushedFrom - 1000).toISOString()]);
    const offset = loggedOffsets(log.output, "FLUSHALL")[0];
    if (!offset) throw new Error(`backup log lists no FLUSHALL: ${log.output}`);
    const undo = await script(["undo", offset]);
    console.log(undo.output.trimEnd().replace(/^/gm, "    "));
    const { keysSet: keysUndone, heldMs } = undoReport(undo.output);
    await everyPodHolds(hosts, creds.redisPassword, n);
    await shippedThrough();
    await archiver.stop();

    // The region is lost (pods and volumes): new, empty pods from the base and the whole archive.
    await topology.destroy();
    const marks: Record<string, number> = {};
    const seedStart = Date.now();
    const [seeded] = await topology.start({
      store: store.access,
      backup: "latest",
      at: "latest",
      scratchDir: path.join(dir, "seed-scratch"),
      onOutput: (line) => {
        if (/restore: plan: /.test(line)) marks.replay ??= Date.now();
        if (/loading \d+ bytes into a scratch/.test(line)) marks.load ??= Date.now();
      },
    });
    if (!seeded || seeded.code !== 0) throw new Error(`seed failed: ${seeded?.output}`);
    const seedMs = Date.now() - seedStart;
    const started = Date.now();
    await waitForConvergence(hosts, cfg.masterName, creds, 300_000);
    await everyPodHolds(hosts, creds.redisPassword, n);
    return {
      keys: n,
      commandsReplayed: Number(/(\d+) commands replayed/.exec(seeded.output)?.[1] ?? 0),
      logMs: log.ms,
      undoMs: undo.ms,
      heldMs,
      keysUndone,
      seedMs,
      replayMs: (marks.load ?? Date.now()) - (marks.replay ?? Date.now()),
      startMs: Date.now() - started,
    };
  } finally {
    await archiver?.stop();
    await topology.shutdown();
    await store.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function archiveTable(rows: ArchiveBenchRow[]): string {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  return [
    "| keys | backup log s | undo s | undo held writes ms | keys undone | commands replayed | replay s | replay commands/s | seed s | start until every pod holds every key s | restore RTO s |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      (r) =>
        `| ${r.keys} | ${s(r.logMs)} | ${s(r.undoMs)} | ${r.heldMs} | ${r.keysUndone} | ${r.commandsReplayed} | ${s(r.replayMs)} | ${Math.round(r.commandsReplayed / (r.replayMs / 1000))} | ${s(r.seedMs)} | ${s(r.startMs)} | ${s(r.seedMs + r.startMs)} |`,
    ),
  ].join("\n");
}
