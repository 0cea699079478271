import { ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveTiming, backupSettings } from "../k8s/backup/settings";
import { alertRuleGroups } from "../k8s/monitoring";
import { idTime } from "../local/drill/disasterReport";
import { REDIS_PORT } from "../k8s/redis/render";
import { LocalArchiver } from "../local/backup/archiver";
import { backupIdFrom, LocalBackupOptions, runBackupScript } from "../local/backup/job";
import { windowFrom } from "../ops/backup";
import { LocalObjectStore } from "../local/backup/objectStore";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { ClusterTopology } from "../local/cluster/topology";
import { withConnection } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./helpers/fastFailover";
import { suiteTopology } from "./helpers/clusterTopology";
import { CONVERGE_MS } from "./helpers/redisTier";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";
import { storeClient } from "./helpers/storeClient";
import { startPushgateway } from "./helpers/pushgateway";

// The continuous archive end to end: redis-dr-archiver following a replica of the rendered pods
// on the local kubelet (from the backup job's namespace, by the pods' names), archive.sh
// shipping its segments to an S3-compatible server on the node's address, and backup.sh
// restoring the state at a time from a verified backup plus the archive.
// Segments of a second, not a quarter: this file checks what the archive holds and replays, not
// how soon (the drills measure that), and a quarter of the objects keeps the S3 stand-in, which
// walks its whole directory on every listing, responsive beside the suite.
const ARCHIVE_INTERVAL = { "redis-dr:archiveIntervalMs": "4000" };
const cfg = { ...FAST_FAILOVER_CFG, archiveIntervalMs: Number(ARCHIVE_INTERVAL["redis-dr:archiveIntervalMs"]) };
const creds = TEST_CREDENTIALS;
const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-archive-test-"));
let store: LocalObjectStore;
let topology: ClusterTopology;
let hosts: string[];
let job: LocalBackupOptions;
let archiver: LocalArchiver;
let pushgateway: ChildProcess;
/** The first backup of this file, and when it was verified: the oldest base retention keeps. */
let firstBackup: { id: string; verifiedAt: number } | undefined;
/** On the node's address of the pod network: the job and the shipper push from the job's namespace. */
let PUSHGATEWAY: string;

const masterOf = async () => (await waitForConvergence(hosts, cfg.masterName, creds, CONVERGE_MS)).masters[0]!;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const redis = <T>(host: string, fn: (c: import("ioredis").default) => Promise<T>) => withConnection(host, REDIS_PORT, creds.redisPassword, fn, 5000);

/** One metric pushed to the Pushgateway for this bucket (by the shipper or the backup job), or undefined. */
async function pushed(name: string): Promise<number | undefined> {
  const metrics = await (await fetch(`http://${PUSHGATEWAY}/metrics`)).text();
  const value = new RegExp(`^${name}\\{[^}]*bucket="${store.bucket}"[^}]*\\} (\\S+)$`, "m").exec(metrics)?.[1];
  return value === undefined ? undefined : Number(value);
}

/** What `backup.sh window` reports restore --at can reach now. */
async function windowNow(): Promise<string> {
  const result = await runBackupScript(job, ["window"]);
  expect(result.code, result.output).toBe(0);
  return windowFrom(result.output) ?? result.output;
}

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
  ({ topology, hosts } = await suiteTopology(SUITE_BRIDGES.archive, { baseDir: path.join(baseDir, "live"), overrides: ARCHIVE_INTERVAL }));
  topology.prepare();
  store = new LocalObjectStore(path.join(baseDir, "objects"), "redis-dr-test-archive", 19931, topology.hostAddress);
  await store.start();
  PUSHGATEWAY = `${topology.hostAddress}:19913`;
  pushgateway = await startPushgateway(PUSHGATEWAY);
  await topology.start();
  job = { target: topology.backupTarget(), store: store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "scratch"), pushgateway: PUSHGATEWAY };
  await masterOf();
  archiver = new LocalArchiver({ job, spoolDir: path.join(baseDir, "spool"), timing: archiveTiming(cfg) });
  await archiver.start();
}, 120_000);

afterAll(async () => {
  pushgateway?.kill();
  await archiver?.stop();
  await topology?.shutdown();
  await store?.stop();
}, 60_000);

describe("restore to a time from a backup and the continuous archive", () => {
  it("brings back every write acknowledged before the chosen time, none after it, past the backup", async () => {
    const acked = new Map<string, number>();
    await ackedWrites(await masterOf(), "before-backup:", 200, acked);
    // Stored a second before the backup starts: what the retention test below prunes.
    await waitShipped(await masterOf());
    await pause(1100);
    const backup = await runBackupScript(job, ["run"]);
    expect(backup.code, backup.output).toBe(0);
    firstBackup = { id: backupIdFrom(backup.output)!, verifiedAt: Date.now() };
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
    // The run checked the archive: the first backup replayed to this one's offset is this one.
    expect(base.output).toMatch(new RegExp(`archive check: ${firstBackup!.id} plus the archive replayed to offset \\d+ matches backup ${backupIdFrom(base.output)} \\(\\d+ keys, digest [0-9a-f]{40}\\)`));
    expect(await pushed("redis_dr_backup_archive_mismatch")).toBe(0);
    const acked = new Map<string, number>();
    await store.stop();
    await ackedWrites(await masterOf(), "outage:", 200, acked);
    const shipLog = path.join(baseDir, "archive-ship.log");
    await waitFor("the shipper to report the failed upload", async () => /upload failed; [1-9]\d* segment\(s\) wait in the spool/.test(fs.readFileSync(shipLog, "utf8")), 30_000);
    // A store it cannot read is a failed after-gap run, not "no gap".
    const unreadable = await runBackupScript(job, ["run", "--after-gap"]);
    expect(unreadable.code).not.toBe(0);
    expect(unreadable.output).toContain("after-gap: the store cannot be read; no run");
    const noWindow = await runBackupScript(job, ["window"]);
    expect(noWindow.code).not.toBe(0);
    expect(noWindow.output).toContain("window: cannot list");
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

describe("the archive's checksums", () => {
  it("refuses a restore when a stored segment's data does not match its manifest's sha256", async () => {
    expect((await runBackupScript(job, ["run"])).code).toBe(0);
    const master = await masterOf();
    await ackedWrites(master, "checksum:", 20, new Map());
    await waitShipped(master);
    // s3rver keeps each object as a file under its name's folders (archive/<hour>/...).
    const dir = path.join(store.directory, store.bucket, "archive");
    const stored = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => /(^|\/)\d{20}-[0-9a-f]{40}\.resp\._S3rver_object$/.test(f)).sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
    const data = path.join(dir, stored.at(-1)!);
    const original = fs.readFileSync(data);
    // One bit flipped in what the store holds, its own MD5 (the ETag rclone checks) recomputed:
    // a store that serves intact what it holds, but not what was shipped.
    const altered = Buffer.from(original);
    altered[altered.length - 1]! ^= 1;
    fs.writeFileSync(data, altered);
    fs.rmSync(`${data}.md5`, { force: true });
    try {
      const result = await runBackupScript(job, ["restore", "--at", "latest"]);
      expect(result.code).not.toBe(0);
      expect(result.output).toContain(`archive segment ${path.basename(data).split(".")[0]}: sha256 does not match its manifest's`);
    } finally {
      fs.writeFileSync(data, original);
      fs.rmSync(`${data}.md5`, { force: true });
    }
  }, 120_000);
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
    expect(undone.output).toMatch(/undone at offset \d+: 1 command\(s\) left out; \d+ key\(s\) set and \d+ deleted in \d+ script\(s\) of at most 10000 keys; the longest held writes for \d+ ms/);
    const present = new Set(await redis(master, (c) => c.keys("*")));
    expect([...before.keys()].filter((key) => !present.has(key))).toEqual([]);
    expect(await redis(master, (c) => c.get("kept-before:3"))).toBe("v3");
    expect(await redis(master, (c) => c.get("kept-before:7"))).toBe("rewritten-after");
    expect([...Array(50).keys()].map((i) => `kept-after:${i}`).filter((key) => !present.has(key))).toEqual([]);
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((key) => !present.has(key))).toEqual([]);
  }, 600_000);

  it("refuses an offset where no archived command ends and changes nothing", async () => {
    const master = await masterOf();
    const keys = await redis(master, (c) => c.dbsize());
    const result = await runBackupScript(job, ["undo", "1"]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/undo: no trusted backup from before offset 1|offset 1 is/);
    expect(await redis(master, (c) => c.dbsize())).toBe(keys);
  }, 60_000);
});

describe("the archive's hours", () => {
  it("lists the hours from a restore's base on and no older one", async () => {
    const rclone = storeClient(() => job);
    // A manifest past every stored offset, with no data: a restore that lists it downloads it
    // and fails. Stored in an hour before every base, it is never listed; in this hour, it is.
    const name = `${"9".repeat(20)}-${"a".repeat(40)}.json`;
    const thisHour = new Date().toISOString().slice(0, 13);
    const scratch = path.join(baseDir, "broken-manifest.json");
    fs.writeFileSync(scratch, '{"sha256":"00"}\n');
    expect((await runBackupScript(job, ["run"])).code).toBe(0);
    const master = await masterOf();
    await ackedWrites(master, "hours:", 20, new Map());
    await waitShipped(master);
    const restore = () => runBackupScript(job, ["restore", "--at", "latest"]);
    try {
      expect((await rclone("copyto", scratch, `store:${store.bucket}/archive/2000-01-01T00/${name}`)).status).toBe(0);
      const restored = await restore();
      expect(restored.code, restored.output).toBe(0);
      expect(restored.output).toMatch(/archive restored to offset \d+/);
      expect((await rclone("copyto", scratch, `store:${store.bucket}/archive/${thisHour}/${name}`)).status).toBe(0);
      const failed = await restore();
      expect(failed.code).not.toBe(0);
      // Listed, it is downloaded and checked: its data is missing.
      expect(failed.output).toContain(name.replace(/\.json$/, ".resp"));
    } finally {
      for (const hour of ["2000-01-01T00", thisHour]) await rclone("deletefile", `store:${store.bucket}/archive/${hour}/${name}`);
    }
  }, 120_000);
});

describe("retention of the archive", () => {
  const rclone = storeClient(() => job);
  /** Every object under the archive prefix (its path there: <hour>/<segment>, gaps/<gap>), with when the store took it. */
  const archived = async () =>
    (JSON.parse((await rclone("lsjson", "-R", "--files-only", `store:${store.bucket}/archive`)).stdout.toString()) as Array<{ Path: string; ModTime: string }>).map((o) => ({
      name: o.Path,
      storedAt: Date.parse(o.ModTime),
    }));

  it("deletes what was stored before the oldest kept backup, and still restores from that backup", async () => {
    // Every backup of this file is of the last hour, so all are kept: the oldest is the first test's.
    const { id, verifiedAt } = firstBackup!;
    const before = await archived();
    const cutoff = idTime(id);
    // The newest gap record (the archive's start here) and the newest segment always stay: the archiver resumes after them.
    const newest = (pattern: RegExp) =>
      before
        .map((o) => o.name)
        .filter((n) => pattern.test(path.basename(n)))
        .sort((a, b) => path.basename(a).localeCompare(path.basename(b)))
        .at(-1);
    const kept = [newest(/^gap-.*\.json$/), newest(/^\d{20}-[0-9a-f]{40}\.json$/)?.replace(/\.json$/, ".")];
    // Segments are stored under the hour their first command arrived; gap records under gaps/.
    expect(before.filter((o) => /^\d{20}-/.test(path.basename(o.name))).every((o) => /^\d{4}-\d{2}-\d{2}T\d{2}\/\d{20}-[0-9a-f]{40}\.(resp|json)$/.test(o.name))).toBe(true);
    expect(kept[0]).toMatch(/^gaps\/gap-/);
    const older = before.filter((o) => o.storedAt < cutoff && o.name !== kept[0] && !(kept[1] && o.name.startsWith(kept[1])));
    expect(older.length).toBeGreaterThan(0);
    const pruned = await runBackupScript(job, ["prune"], { ARCHIVE_PRUNE_MARGIN_SECONDS: "0" });
    expect(pruned.code, pruned.output).toBe(0);
    expect(pruned.output).toContain(`retention: deleted ${older.length} archive object(s) stored more than 0s before the oldest kept backup ${id}`);
    const after = new Set((await archived()).map((o) => o.name));
    expect(older.filter((o) => after.has(o.name)).map((o) => o.name)).toEqual([]);
    expect(before.filter((o) => !older.includes(o) && !after.has(o.name)).map((o) => o.name)).toEqual([]);
    // The base's own segments were stored after it was taken: a restore from it still replays.
    const restored = await runBackupScript(job, ["restore", "--at", new Date(verifiedAt + 1000).toISOString()]);
    expect(restored.code, restored.output).toBe(0);
    expect(restored.output).toMatch(new RegExp(`done, \\d+ keys restored from backup ${id} .*; archive restored to offset \\d+`));
  }, 180_000);
});

describe("checking the archive against each new backup", () => {
  it("flags a replica whose data the archive does not replay to, and the run still succeeds", async () => {
    const master = await masterOf();
    const replicas = topology.pods.filter((p) => p.host !== master);
    // A write on a writable replica reaches neither the master nor that replica's own replicas
    // (the archiver is one): the next backup, taken from a replica, holds what the archive lacks.
    const onReplicas = (fn: (c: import("ioredis").default) => Promise<unknown>) =>
      Promise.all(
        replicas.map((r) =>
          redis(r.host, async (c) => {
            await c.call("CONFIG", "SET", "replica-read-only", "no");
            await fn(c);
            await c.call("CONFIG", "SET", "replica-read-only", "yes");
          }),
        ),
      );
    await onReplicas((c) => c.set("diverged:replica-only", "x"));
    try {
      const run = await runBackupScript(job, ["run"]);
      expect(run.code, run.output).toBe(0);
      const mismatch = /archive check: MISMATCH: \S+ plus the archive to offset \d+ gives (\d+) keys, digest [0-9a-f]{40}; backup \S+ \(a replica at that offset\) holds (\d+) keys/.exec(run.output);
      expect(mismatch, run.output).not.toBeNull();
      expect(Number(mismatch![2])).toBe(Number(mismatch![1]) + 1);
      expect(await pushed("redis_dr_backup_archive_mismatch")).toBe(1);
    } finally {
      await onReplicas((c) => c.del("diverged:replica-only"));
    }
  }, 180_000);
});

describe("the archive's metrics", () => {
  // Last in this file: the full resync it forces leaves a gap no restore above could cross.
  it("pushes how far the store reaches and the lag threshold, and after a full resync the gap, a restore across it only when told, and a new base", async () => {
    const master = await masterOf();
    const started = Date.now();
    await ackedWrites(master, "pushed:", 20, new Map());
    const offset = Number(/master_repl_offset:(\d+)/.exec(await redis(master, (c) => c.info("replication")))![1]);
    await waitShipped(master);
    await waitFor("the shipper to push the stored offset", async () => ((await pushed("redis_dr_archive_stored_offset")) ?? 0) >= offset, 30_000);
    expect(await pushed("redis_dr_archive_max_lag_seconds")).toBe(archiveTiming(cfg).alertLagSeconds);
    // The newest stored write reached the archiver after these writes began.
    expect((await pushed("redis_dr_archive_stored_through_timestamp_seconds"))! * 1000).toBeGreaterThanOrEqual(started);
    expect(await pushed("redis_dr_archive_spool_segments")).toBeGreaterThanOrEqual(0);
    expect(await pushed("redis_dr_archive_last_gap_timestamp_seconds")).toBeUndefined();
    // The window restore --at reaches: from the oldest trusted backup to the newest stored write.
    const whole = await windowNow();
    const reach = /^(\S+) \(backup (\d{8}T\d{6}Z)\) to (\S+) \(the newest archived write, offset (\d+), \d+ s ago\)$/.exec(whole);
    expect(reach, whole).not.toBeNull();
    expect((await runBackupScript(job, ["list"])).output).toContain(reach![2]);
    expect(Date.parse(reach![1]!)).toBe(idTime(reach![2]!));
    expect(Date.parse(reach![3]!)).toBeGreaterThanOrEqual(started);
    expect(Number(reach![4])).toBeGreaterThanOrEqual(offset);

    const quiet = await runBackupScript(job, ["run", "--after-gap"]);
    expect(quiet.code, quiet.output).toBe(0);
    expect(quiet.output).toContain("after-gap: the archive has recorded no gap; nothing to do");
    expect(backupIdFrom(quiet.output)).toBeUndefined();

    // The archiver away for longer than the backlog reaches: its resume gets a full resync, and
    // it records a gap over what was written meanwhile (Redis' smallest backlog, 16 KiB; 7.0
    // trims to a new size as writes come, and a PSYNC from before it gets +FULLRESYNC: 7.4 the same).
    await archiver.stop();
    const backlogs = await Promise.all(hosts.map((host) => redis(host, (c) => c.config("GET", "repl-backlog-size") as Promise<string[]>)));
    await Promise.all(hosts.map((host) => redis(host, (c) => c.config("SET", "repl-backlog-size", "16384"))));
    const beforeGap = Date.now();
    const duringGap = Array.from({ length: 64 }, (_, i) => `during-gap:${i}`);
    await redis(master, async (c) => {
      for (const key of duringGap) await c.set(key, "x".repeat(1024));
      await c.call("WAIT", "2", "2000");
    });
    await archiver.start();
    await waitFor("the shipper to push the gap", async () => (await pushed("redis_dr_archive_last_gap_timestamp_seconds")) !== undefined, 60_000);
    expect((await pushed("redis_dr_archive_last_gap_timestamp_seconds"))! * 1000).toBeGreaterThanOrEqual(beforeGap);
    await waitFor("the shipper to store the gap record", async () => /shipped a gap record: gap-\d{20}-[0-9a-f]{40}\.json/.test(fs.readFileSync(path.join(baseDir, "archive-ship.log"), "utf8")), 30_000);
    expect(await windowNow()).toMatch(/; not from \S+ \(a gap: full resync, the archive continues at offset \d+\) on: no trusted backup after it yet$/);
    await Promise.all(hosts.map((host, i) => redis(host, (c) => c.config("SET", "repl-backlog-size", backlogs[i]![1]!))));

    // Past the gap with no base after it: refused unless told, and then without what it left out.
    const afterGapWrites = new Map<string, number>();
    await ackedWrites(master, "past-gap:", 20, afterGapWrites);
    await waitShipped(master);
    await pause(1100);
    const pastGap = new Date().toISOString();
    // One write after the chosen time, so the archive reaches past it (and it must not come back).
    await pause(1100);
    await ackedWrites(master, "after-chosen:", 1, new Map());
    await waitShipped(master);
    const refused = await runBackupScript(job, ["restore", "--at", pastGap]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/cannot restore to \S+: the archive covers offsets \d+\.\.\d+, up to \S+ \(a gap: full resync at \S+\); --allow-gap replays across it/);
    await redis(master, (c) => c.flushall());
    const crossed = await runBackupScript(job, ["restore", "--at", pastGap, "--allow-gap"]);
    expect(crossed.code, crossed.output).toBe(0);
    expect(crossed.output).toMatch(/warning: crossed a gap \(a full resync recorded at \S+\): nothing is archived from offset \d+ .* to offset \d+ /);
    expect(crossed.output).toMatch(/restore: done, .*; across 1 recorded gap\(s\), whose writes are missing/);
    const restored = new Set(await redis(master, (c) => c.keys("*")));
    expect([...afterGapWrites.keys()].filter((key) => !restored.has(key))).toEqual([]);
    expect(restored.has("pushed:0")).toBe(true);
    expect(duringGap.filter((key) => restored.has(key))).toEqual([]);
    expect(restored.has("after-chosen:0")).toBe(false);
    // Whole again only from a base after the gap: the after-gap run takes one at once, and only once.
    const afterGap = await runBackupScript(job, ["run", "--after-gap"]);
    expect(afterGap.code, afterGap.output).toBe(0);
    expect(afterGap.output).toMatch(/after-gap: the archive has a gap at \S+ \(offset \d+\) and no backup since \(newest \d{8}T\d{6}Z\): taking a new base now/);
    const base = backupIdFrom(afterGap.output)!;
    expect(idTime(base)).toBeGreaterThanOrEqual(Math.floor(beforeGap / 1000) * 1000);
    const again = await runBackupScript(job, ["run", "--after-gap"]);
    expect(again.output).toContain(`after-gap: backup ${base} was taken after the newest gap`);
    expect(backupIdFrom(again.output)).toBeUndefined();
    expect(await windowNow()).toMatch(new RegExp(`; not from \\S+ \\(a gap: full resync, the archive continues at offset \\d+\\) to \\S+ \\(backup ${base}, the first base after it\\)$`));
    // Every archive metric an alert rule names is one the shipper pushes.
    const ruled = new Set(alertRuleGroups().flatMap((g) => g.rules.flatMap((r) => r.expr.match(/\bredis_dr_archive_[a-z_]+\b/g) ?? [])));
    expect(ruled.size).toBe(3);
    for (const name of ruled) expect(await pushed(name), name).toBeDefined();
  }, 180_000);
});
