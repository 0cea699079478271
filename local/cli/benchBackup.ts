import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stackFileConfig } from "../../config/stackFile";
import { backupSettings } from "../../k8s/backup/settings";
import { REDIS_PORT } from "../../k8s/redis/render";
import { withConnection } from "../../probe/connection";
import { parseCommandLine } from "../../scripts/commandLine";
import { backupIdFrom, LocalBackupOptions, processBackupTarget, runBackupScript, seedAndStartAll } from "../backup/job";
import { waitForConvergence } from "../measure/sentinelGroupWatch";
import { localCredentials } from "../credentials";
import { podNetwork } from "../process/network";
import { LocalObjectStore } from "../backup/objectStore";
import { writeResults } from "../measure/results";
import { LocalTopology } from "../process/topology";

const USAGE = `usage: npm run bench:backup [-- options]

Backup and restore time by dataset size: for each size, a topology is filled with that many
keys (100-byte values), backed up into the local S3-compatible store (take, then verify by
restoring the stored copy into a scratch server), and a new, empty topology is seeded from the
backup and started until every pod holds every key: the RTO of a lost region for that size.

options:
  --stack NAME          stack file to read; default dev
  --sizes A,B           key counts; default 10000,100000,1000000
  --loopback            loopback addresses instead of network namespaces
  --results FILE        also write the table, with how it was measured, to FILE (docs/results/backup.md)
  -h, --help            this text`;

interface Row {
  keys: number;
  bytes: number;
  takeMs: number;
  verifyMs: number;
  seedMs: number;
  startMs: number;
}

const VALUE_BYTES = 100;

/** n keys of 100-byte values, written by the master itself in batches (no client round trips). */
async function fill(host: string, password: string, n: number): Promise<void> {
  await withConnection(
    host,
    REDIS_PORT,
    password,
    async (c) => {
      for (let from = 1; from <= n; from += 50_000) {
        const to = Math.min(n, from + 49_999);
        // Hex digests, not a repeated byte: values must not compress away in the RDB.
        await c.eval(
          "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do local h = redis.sha1hex(tostring(i)) redis.call('SET', 'kv:bench-' .. i, string.sub(h .. redis.sha1hex(h) .. redis.sha1hex(h .. i), 1, tonumber(ARGV[3]))) end return 1",
          0,
          from,
          to,
          VALUE_BYTES,
        );
      }
    },
    120_000,
  );
}

async function dbsizes(t: LocalTopology, password: string): Promise<number[]> {
  return Promise.all(t.pods.map((p) => withConnection(p.address, REDIS_PORT, password, (c) => c.dbsize(), 5000).catch(() => -1)));
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measure(n: number, stack: string, loopback: boolean, baseDir: string): Promise<Row> {
  const cfg = stackFileConfig(stack);
  const dir = path.join(baseDir, String(n));
  fs.mkdirSync(dir, { recursive: true });
  const creds = localCredentials(dir);
  const network = podNetwork(cfg.redisReplicas, "drill", loopback);
  const store = new LocalObjectStore(path.join(dir, "objects"), "redis-dr-bench-backups", 19530, network.hostAddress);
  let topology = new LocalTopology({ cfg, baseDir: path.join(dir, "before"), network, ...creds });
  const job = (t: LocalTopology): LocalBackupOptions => ({ target: processBackupTarget(t), store: store.access, settings: backupSettings(cfg), scratchDir: path.join(dir, "scratch") });
  try {
    topology.prepare();
    await store.start();
    topology.startAll();
    const master = (await waitForConvergence(topology.pods.map((p) => p.address), cfg.masterName, creds, 120_000)).masters[0]!;
    await fill(master, creds.redisPassword, n);
    const current = topology;
    await until("the replicas to hold every key", async () => (await dbsizes(current, creds.redisPassword)).every((s) => s === n), 300_000);

    let started = Date.now();
    const taken = await runBackupScript(job(topology), ["take"]);
    const id = backupIdFrom(taken.output);
    if (taken.code !== 0 || !id) throw new Error(`backup failed: ${taken.output}`);
    const takeMs = Date.now() - started;
    const bytes = Number(/(\d+) bytes from/.exec(taken.output)?.[1] ?? 0);
    started = Date.now();
    const verified = await runBackupScript(job(topology), ["verify", id]);
    if (verified.code !== 0) throw new Error(`verify failed: ${verified.output}`);
    const verifyMs = Date.now() - started;
    await topology.shutdown();

    // The region is gone: a new, empty topology seeded from the store.
    topology = new LocalTopology({ cfg, baseDir: path.join(dir, "after"), network, ...creds });
    topology.prepare();
    started = Date.now();
    const [seeded] = await seedAndStartAll(topology, store.access, { backup: "latest" }, path.join(dir, "seed-scratch"));
    if (!seeded || seeded.code !== 0) throw new Error(`seed failed: ${seeded?.output}`);
    const seedMs = Date.now() - started;
    started = Date.now();
    topology.startAll();
    const restored = topology;
    await waitForConvergence(topology.pods.map((p) => p.address), cfg.masterName, creds, 300_000);
    await until("every pod to hold every key", async () => (await dbsizes(restored, creds.redisPassword)).every((s) => s === n), 300_000);
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
    loopback: { type: "boolean", default: false },
    results: { type: "string" },
  });
  const sizes = values.sizes!.split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000_000)) {
    console.error(`--sizes: "${values.sizes}" must be key counts from 1 to 10000000\n\n${USAGE}`);
    process.exit(2);
  }
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-backup-bench-"));
  const rows: Row[] = [];
  for (const n of sizes) {
    console.log(`${n} keys...`);
    rows.push(await measure(n, values.stack!, values.loopback!, baseDir));
  }
  const result = table(rows);
  console.log(`\n${result}`);
  if (values.results) {
    writeResults(values.results, "Backup and restore by dataset size", "bench:backup", `Values of ${VALUE_BYTES} bytes; restore RTO = seed + start (a new, empty topology until every pod holds every key).\n\n${result}\n`);
  }
}

main().catch((error) => {
  console.error(`bench:backup failed: ${(error as Error).message}`);
  process.exit(1);
});
