import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stackFileConfig } from "../../config/stackFile";
import { parseCommandLine } from "../../scripts/commandLine";
import { backupIdFrom, runBackupScript } from "../backup/job";
import { rerunRootlessUnlessRoot } from "../cluster/rootless";
import { waitForConvergence } from "../measure/sentinelGroupWatch";
import { writeResults } from "../measure/results";
import { everyPodHolds, fill, FILL_VALUE_BYTES } from "../measure/dataset";
import { ArchiveBenchRow, archiveTable, measureArchive } from "../measure/archiveBench";
import { benchRegion } from "../measure/benchRegion";

const USAGE = `usage: npm run bench:backup [-- options]

Backup and restore time by dataset size: for each size, a topology is filled with that many
keys (100-byte values), backed up into the local S3-compatible store (take, then verify by
restoring the stored copy into a scratch server), and a new, empty topology is seeded from the
backup and started until every pod holds every key: the RTO of a lost region for that size.

With --archive, the continuous archive instead (docs/archive.md): for each size, the keys are
backed up, overwritten and flushed with the archiver running; backup log finds the FLUSHALL and
backup undo takes it back (how long it held writes); then a new, empty topology is seeded from
the backup and the whole archive: the replay rate and the RTO of a lost region.

options:
  --stack NAME          stack file to read; default dev
  --sizes A,B           key counts; default 10000,100000,1000000
  --archive             the archive's figures (undo, replay, restore from backup plus archive)
  --results FILE        also write the table, with how it was measured, to FILE (docs/results/backup.md,
                        or docs/results/archive.md with --archive)
  -h, --help            this text`;

interface Row {
  keys: number;
  bytes: number;
  takeMs: number;
  verifyMs: number;
  seedMs: number;
  startMs: number;
}

async function measure(n: number, stack: string, baseDir: string): Promise<Row> {
  const cfg = stackFileConfig(stack);
  const { dir, creds, store, job, topology, hosts } = await benchRegion(stack, cfg, path.join(baseDir, String(n)), "redis-dr-bench-backups", 19530);
  try {
    topology.prepare();
    await store.start();
    await topology.start();
    const master = (await waitForConvergence(hosts, cfg.masterName, creds, 120_000)).masters[0]!;
    await fill(master, creds.redisPassword, n);
    await everyPodHolds(hosts, creds.redisPassword, n);

    let started = Date.now();
    const taken = await runBackupScript(job(), ["take"]);
    const id = backupIdFrom(taken.output);
    if (taken.code !== 0 || !id) throw new Error(`backup failed: ${taken.output}`);
    const takeMs = Date.now() - started;
    const bytes = Number(/(\d+) bytes from/.exec(taken.output)?.[1] ?? 0);
    started = Date.now();
    const verified = await runBackupScript(job(), ["verify", id]);
    if (verified.code !== 0) throw new Error(`verify failed: ${verified.output}`);
    const verifyMs = Date.now() - started;

    // The region is gone (pods and volumes): new, empty pods seeded from the store, as the restore init containers do.
    await topology.destroy();
    started = Date.now();
    const [seeded] = await topology.start({ store: store.access, backup: "latest", scratchDir: path.join(dir, "seed-scratch") });
    if (!seeded || seeded.code !== 0) throw new Error(`seed failed: ${seeded?.output}`);
    const seedMs = Date.now() - started;
    started = Date.now();
    await waitForConvergence(hosts, cfg.masterName, creds, 300_000);
    await everyPodHolds(hosts, creds.redisPassword, n);
    return { keys: n, bytes, takeMs, verifyMs, seedMs, startMs: Date.now() - started };
  } finally {
    await topology.shutdown();
    await store.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function table(rows: Row[]): string {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  return [
    "| keys | RDB MiB | take s | verify s | seed (download + load) s | start until every pod holds every key s | restore RTO s |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.keys} | ${(r.bytes / 1024 ** 2).toFixed(1)} | ${s(r.takeMs)} | ${s(r.verifyMs)} | ${s(r.seedMs)} | ${s(r.startMs)} | ${s(r.seedMs + r.startMs)} |`),
  ].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseCommandLine(USAGE, {
    stack: { type: "string", default: "dev" },
    sizes: { type: "string", default: "10000,100000,1000000" },
    results: { type: "string" },
    archive: { type: "boolean", default: false },
  });
  const sizes = values.sizes!.split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000_000)) {
    console.error(`--sizes: "${values.sizes}" must be key counts from 1 to 10000000\n\n${USAGE}`);
    process.exit(2);
  }
  await rerunRootlessUnlessRoot();
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-backup-bench-"));
  let result: string;
  let how: string;
  if (values.archive) {
    const rows: ArchiveBenchRow[] = [];
    for (const n of sizes) {
      console.log(`${n} keys, archived...`);
      rows.push(await measureArchive(values.stack!, stackFileConfig(values.stack!), n, baseDir));
    }
    result = archiveTable(rows);
    how = `Values of ${FILL_VALUE_BYTES} bytes, archiveIntervalMs of the stack; the undo takes back a FLUSHALL of every key (one script; held = its run time on the master); commands replayed = the overwrite of every key, the FLUSHALL and the undo's RESTOREs; restore RTO = seed (download, replay, load) + start.`;
  } else {
    const rows: Row[] = [];
    for (const n of sizes) {
      console.log(`${n} keys...`);
      rows.push(await measure(n, values.stack!, baseDir));
    }
    result = table(rows);
    how = `Values of ${FILL_VALUE_BYTES} bytes; restore RTO = seed + start (a new, empty topology until every pod holds every key).`;
  }
  console.log(`\n${result}`);
  if (values.results) writeResults(values.results, values.archive ? "The continuous archive: undo and restore by dataset size" : "Backup and restore by dataset size", "bench:backup", `${how}\n\n${result}\n`);
}

main().catch((error) => {
  console.error(`bench:backup failed: ${(error as Error).message}`);
  process.exit(1);
});
