import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveTiming, backupSettings } from "../k8s/backup/settings";
import { REDIS_PORT } from "../k8s/redis/render";
import { LocalArchiver } from "../local/backup/archiver";
import { LocalBackupOptions, processBackupTarget, runBackupScript } from "../local/backup/job";
import { LocalObjectStore } from "../local/backup/objectStore";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { LoopbackNetwork } from "../local/process/network";
import { LocalTopology } from "../local/process/topology";
import { withConnection } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./helpers/fastFailover";
import { CONVERGE_MS } from "./helpers/redisTier";
import { SUITE_LOOPBACK } from "./helpers/suiteNetworks";

// The continuous archive end to end: redis-dr-archiver following a replica of real pods,
// archive.sh shipping its segments to an S3-compatible server, and backup.sh restoring the
// state at a time from a verified backup plus the archive.
const cfg = FAST_FAILOVER_CFG;
const creds = TEST_CREDENTIALS;
const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-archive-test-"));
const store = new LocalObjectStore(path.join(baseDir, "objects"), "redis-dr-test-archive", 19931);
const topology = new LocalTopology({ cfg, baseDir: path.join(baseDir, "live"), network: new LoopbackNetwork(3, SUITE_LOOPBACK.archive), ...creds });
const hosts = topology.pods.map((p) => p.address);
let job: LocalBackupOptions;
let archiver: LocalArchiver;

const masterOf = async () => (await waitForConvergence(hosts, cfg.masterName, creds, CONVERGE_MS)).masters[0]!;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redis = <T>(host: string, fn: (c: import("ioredis").default) => Promise<T>) => withConnection(host, REDIS_PORT, creds.redisPassword, fn, 5000);

/** Writes key i = "v<i>" one at a time, each acknowledged by WAIT 1, recording when it was acknowledged. */
async function ackedWrites(master: string, prefix: string, count: number, acked: Map<string, number>) {
  await redis(master, async (c) => {
    for (let i = 0; i < count; i++) {
      await c.set(`${prefix}${i}`, `v${i}`);
      await c.call("WAIT", "1", "2000");
      acked.set(`${prefix}${i}`, Date.now());
    }
  });
}

/** Until the store holds every write the master has now. */
async function waitShipped(master: string) {
  const info = await redis(master, (c) => c.info("replication"));
  const offset = Number(/master_repl_offset:(\d+)/.exec(info)![1]);
  // A wait, not a measure (the drills measure how soon writes are stored): the suite's other
  // files load the same two cores, and an upload pass took up to 42 s under them in CI.
  await waitFor(`the archive to be stored through offset ${offset}`, async () => archiver.shippedThrough(offset), 120_000);
}

beforeAll(async () => {
  await store.start();
  job = { target: processBackupTarget(topology), store: store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "scratch") };
  topology.startAll();
  await masterOf();
  archiver = new LocalArchiver({ job, spoolDir: path.join(baseDir, "spool"), timing: archiveTiming(cfg) });
  await archiver.start();
}, 120_000);

afterAll(async () => {
  await archiver?.stop();
  await topology.shutdown();
  await store.stop();
});

describe("restore to a time from a backup and the continuous archive", () => {
  it("brings back every write acknowledged before the chosen time, none after it, past the backup", async () => {
    const acked = new Map<string, number>();
    await ackedWrites(await masterOf(), "before-backup:", 200, acked);
    const backup = await runBackupScript(job, ["run"]);
    expect(backup.code, backup.output).toBe(0);
    await ackedWrites(await masterOf(), "after-backup:", 300, acked);
    await pause(1100);
    const chosen = Date.now();
    await pause(1100);
    await ackedWrites(await masterOf(), "late:", 100, acked);
    const master = await masterOf();
    await redis(master, (c) => c.flushall());
    await ackedWrites(master, "after-flush:", 50, acked);
    await waitShipped(master);

    const restored = await runBackupScript(job, ["restore", "--at", new Date(chosen).toISOString()]);
    expect(restored.code, restored.output).toBe(0);
    const replayed = /restored to offset \d+, the last command received at \S+: (\d+) commands replayed/.exec(restored.output);
    expect(replayed, restored.output).not.toBeNull();
    expect(Number(replayed![1])).toBeGreaterThanOrEqual(300);
    const present = new Set(await redis(master, (c) => c.keys("*")));
    const byPrefix = (prefix: string) => [...acked.keys()].filter((key) => key.startsWith(prefix));
    // Acknowledged more than 1 s before the chosen time: every one is back, from the backup or the archive.
    expect([...acked].filter(([key, at]) => at < chosen - 1000 && !present.has(key)).map(([key]) => key)).toEqual([]);
    expect(byPrefix("after-backup:").every((key) => present.has(key))).toBe(true);
    // Acknowledged more than 1 s after it and then flushed: none came back.
    expect(byPrefix("late:").filter((key) => present.has(key))).toEqual([]);
    // Written after the FLUSHALL: untouched.
    expect(byPrefix("after-flush:").every((key) => present.has(key))).toBe(true);
  }, 180_000);

  it("keeps what it could not upload while the store is unreachable and stores all of it, in order, once it is back", async () => {
    const base = await runBackupScript(job, ["run"]);
    expect(base.code, base.output).toBe(0);
    const acked = new Map<string, number>();
    await store.stop();
    await ackedWrites(await masterOf(), "outage:", 200, acked);
    const shipLog = path.join(baseDir, "archive-ship.log");
    await waitFor("the shipper to report the failed upload", async () => /upload failed; [1-9]\d* segment\(s\) wait in the spool/.test(fs.readFileSync(shipLog, "utf8")), 30_000);
    await store.start();
    // A time inside the window: the archive covers up to its newest command, so one more write follows it.
    await pause(1100);
    const chosen = Date.now();
    await pause(1100);
    const master = await masterOf();
    await ackedWrites(master, "after-outage:", 1, new Map());
    await waitShipped(master);
    expect(fs.readFileSync(shipLog, "utf8")).toMatch(/upload works again after \d+s/);
    await redis(master, (c) => c.flushall());
    const restored = await runBackupScript(job, ["restore", "--at", new Date(chosen).toISOString()]);
    expect(restored.code, restored.output).toBe(0);
    const present = new Set(await redis(master, (c) => c.keys("outage:*")));
    expect([...acked.keys()].filter((key) => !present.has(key))).toEqual([]);
  }, 360_000);

  it("refuses a time past what the archive covers, naming the window", async () => {
    const result = await runBackupScript(job, ["restore", "--at", new Date(Date.now() + 3_600_000).toISOString()]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/cannot restore to \S+: the archive covers offsets \d+\.\.\d+, up to \S+/);
  }, 60_000);
});

describe("finding and undoing a bad write with the archive", () => {
  it("lists the FLUSHALL in the log and undoes it live, keeping every write before, after and during the undo", async () => {
    const base = await runBackupScript(job, ["run"]);
    expect(base.code, base.output).toBe(0);
    const before = new Map<string, number>();
    await ackedWrites(await masterOf(), "kept-before:", 150, before);
    const master = await masterOf();
    const flushedFrom = Date.now();
    await redis(master, (c) => c.flushall());
    await ackedWrites(master, "kept-after:", 50, new Map());
    // Rewritten after the bad write: undo must leave the new value.
    await redis(master, (c) => c.set("kept-before:7", "rewritten-after"));
    await waitShipped(master);

    const log = await runBackupScript(job, ["log", "--match", "FLUSHALL", "--since", new Date(flushedFrom).toISOString()]);
    expect(log.code, log.output).toBe(0);
    const flushes = [...log.output.matchAll(/^\S+\t(\d+)\t0\tFLUSHALL\t$/gm)].map((m) => m[1]!);
    expect(flushes, log.output).toHaveLength(1);

    // A writer keeps going while the undo runs.
    let writing = true;
    const during: string[] = [];
    const writer = redis(master, async (c) => {
      for (let i = 0; writing; i++) {
        await c.set(`during:${i}`, "x");
        await c.call("WAIT", "1", "2000");
        during.push(`during:${i}`);
        await pause(20);
      }
    });
    // Undo follows the archive to the live master; under the suite's load that can take longer than the default 30 s.
    const undone = await runBackupScript(job, ["undo", flushes[0]!], { UNDO_CATCH_UP_MS: "150000" });
    writing = false;
    await writer;
    expect(undone.code, undone.output).toBe(0);
    expect(undone.output).toMatch(/undone at offset \d+: 1 command\(s\) left out; \d+ key\(s\) set and \d+ deleted in one script that held writes for \d+ ms/);
    const present = new Set(await redis(master, (c) => c.keys("*")));
    expect([...before.keys()].filter((key) => !present.has(key))).toEqual([]);
    expect(await redis(master, (c) => c.get("kept-before:3"))).toBe("v3");
    expect(await redis(master, (c) => c.get("kept-before:7"))).toBe("rewritten-after");
    expect([...Array(50).keys()].map((i) => `kept-after:${i}`).filter((key) => !present.has(key))).toEqual([]);
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((key) => !present.has(key))).toEqual([]);
  }, 360_000);

  it("refuses an offset where no archived command ends and changes nothing", async () => {
    const master = await masterOf();
    const keys = await redis(master, (c) => c.dbsize());
    const result = await runBackupScript(job, ["undo", "1"]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/undo: no trusted backup from before offset 1|offset 1 is/);
    expect(await redis(master, (c) => c.dbsize())).toBe(keys);
  }, 60_000);
});
