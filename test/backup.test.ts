import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupSettings } from "../k8s/backup/settings";
import { alertRuleGroups } from "../k8s/monitoring";
import { REDIS_PORT } from "../k8s/redis/render";
import { LocalBackupOptions, backupIdFrom, runBackupScript } from "../local/backup/job";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { watchArgv } from "../local/drill/argvWatch";
import { LocalObjectStore } from "../local/backup/objectStore";
import { ClusterTopology } from "../local/cluster/topology";
import { withConnection } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { CONVERGE_MS } from "./helpers/redisTier";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./helpers/fastFailover";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";
import { suiteTopology } from "./helpers/clusterTopology";
import { storeClient } from "./helpers/storeClient";
import { startPushgateway } from "./helpers/pushgateway";

// backup.sh, the one script the CronJob, the restore init container and the local topology
// run, against the rendered redis-server/redis-sentinel pods on the local kubelet, rclone and
// an S3-compatible server on the node's address of the pod network. The job runs in a
// namespace of its own, with the cluster's names, as the CronJob's pod does.
const cfg = FAST_FAILOVER_CFG;
const creds = TEST_CREDENTIALS;
const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-backup-test-"));
const BUCKET = "redis-dr-test-backups";
let store: LocalObjectStore;
let topology: ClusterTopology;
let hosts: string[];
let job: LocalBackupOptions;

const redis = <T>(host: string, fn: (c: import("ioredis").default) => Promise<T>) => withConnection(host, REDIS_PORT, creds.redisPassword, fn, 5000);
const masterOf = async () => (await waitForConvergence(hosts, cfg.masterName, creds, CONVERGE_MS)).masters[0]!;
const objects = async () => (await rclone("lsf", "-R", `store:${BUCKET}/backups`)).stdout.toString().split("\n").filter(Boolean).map((o) => o.replace(/\/$/, ""));
const rclone = storeClient(() => job);
const manifestOf = async (id: string) => JSON.parse((await rclone("cat", `store:${store.bucket}/backups/${id}/manifest.json`)).stdout.toString());

async function writeKeys(master: string, n: number, prefix = "kv:") {
  await redis(master, async (c) => {
    for (let i = 0; i < n; i += 500) {
      const batch = c.pipeline();
      for (let j = i; j < Math.min(n, i + 500); j++) batch.set(`${prefix}${j}`, `value-${j}`);
      batch.hset("profile:1", "name", "ada");
      batch.rpush("list:1", "a", "b");
      await batch.exec();
    }
  });
}

beforeAll(async () => {
  ({ topology, hosts } = await suiteTopology(SUITE_BRIDGES.backup, { baseDir: path.join(baseDir, "live") }));
  topology.prepare();
  store = new LocalObjectStore(path.join(baseDir, "objects"), BUCKET, 19911, topology.hostAddress);
  await store.start();
  await topology.start();
  job = { target: topology.backupTarget(), store: store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "scratch") };
  await writeKeys(await masterOf(), 1000);
  // The replicas must hold the keys before a backup copies from one of them.
  await waitFor("both replicas to hold the keys", async () => {
    const master = await masterOf();
    const sizes = await Promise.all(hosts.filter((h) => h !== master).map((h) => redis(h, (c) => c.dbsize())));
    return sizes.every((n) => n === 1002);
  }, 60_000); // a wait, not a measure: the whole suite on two cores can take longer than one file alone
});

afterAll(async () => {
  await topology?.shutdown();
  await store?.stop();
});

describe("backup.sh run", () => {
  let id: string;
  let tampered: string;

  it("copies from a replica, never the master, and stores an RDB its manifest describes", async () => {
    const master = await masterOf();
    const result = await runBackupScript(job, ["run"]);
    expect(result.code, result.output).toBe(0);
    id = backupIdFrom(result.output)!;
    expect(id).toMatch(/^\d{8}T\d{6}Z$/);
    expect((await objects()).filter((o) => o.startsWith(id)).sort()).toEqual([id, `${id}/dump.rdb`, `${id}/manifest.json`, `${id}/verified.json`]);
    // Every working copy (the dump, the verification download) is gone once the run ends.
    expect(fs.readdirSync(job.scratchDir)).toEqual([]);

    const manifest = (await manifestOf(id));
    expect(hosts.filter((h) => h !== master)).toContain(manifest.sourcePod);
    expect(manifest).toMatchObject({ id, keys: 1002, redisVersion: expect.stringMatching(/^7\./) });
    expect(manifest.replicationId).toMatch(/^[0-9a-f]{40}$/);
    expect(manifest.replicationOffset).toBeGreaterThan(0);
    const stored = (await rclone("cat", `store:${store.bucket}/backups/${id}/dump.rdb`)).stdout;
    expect(crypto.createHash("sha256").update(stored).digest("hex")).toBe(manifest.sha256);
    expect(manifest.bytes).toBe(stored.length);
    // Sampled keys are stored byte-exact (hex) with their types.
    const sampled = manifest.sample.map((s: { type: string; keyHex: string }) => [Buffer.from(s.keyHex, "hex").toString(), s.type]);
    expect(sampled.length).toBeGreaterThan(0);
    for (const [key, type] of sampled) expect(type).toBe(key === "profile:1" ? "hash" : key === "list:1" ? "list" : "string");
  });

  it("lists the backup as verified", async () => {
    const result = await runBackupScript(job, ["list"]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(new RegExp(`^${id}\\s+\\S+\\s+1002\\s+\\d+\\s+verified$`, "m"));
  });

  it("verifies from a relative scratch directory too (redis-server changes into its --dir before it makes the socket)", async () => {
    const relative = path.relative(process.cwd(), path.join(baseDir, "relative-scratch"));
    const result = await runBackupScript(job, ["verify", id], { SCRATCH_DIR: relative });
    expect(result.code, result.output).toBe(0);
  });

  it("refuses to mark a backup verified when the stored RDB no longer matches its manifest", async () => {
    const taken = await runBackupScript(job, ["take"]);
    expect(taken.code, taken.output).toBe(0);
    tampered = backupIdFrom(taken.output)!;
    const file = path.join(baseDir, "tampered.rdb");
    fs.writeFileSync(file, Buffer.from("REDIS0011 not an rdb"));
    expect((await rclone("copyto", file, `store:${store.bucket}/backups/${tampered}/dump.rdb`)).status).toBe(0);

    const verify = await runBackupScript(job, ["verify", tampered]);
    expect(verify.code).not.toBe(0);
    expect(verify.output).toMatch(/sha256 [0-9a-f]+ does not match the manifest/);
    expect(await objects()).not.toContain(`${tampered}/verified.json`);
    // A restore by default never picks it; by id it refuses.
    const restore = await runBackupScript(job, ["restore", tampered]);
    expect(restore.code).not.toBe(0);
    expect(restore.output).toMatch(/never verified; refusing/);
  });

  it("restores the keys a FLUSHALL destroyed, from the newest verified backup, through the live master", async () => {
    const master = await masterOf();
    await redis(master, (c) => c.flushall());
    await redis(master, (c) => c.set("kv:after-the-bad-write", "kept"));
    // Small batches: a hundred MIGRATE calls, each a redis-cli whose argv the scan reads.
    const stopArgvWatch = watchArgv([creds.redisPassword], 1);
    const result = await runBackupScript(job, ["restore", "latest"], { MIGRATE_BATCH: "10" });
    expect(stopArgvWatch()).toEqual([]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(new RegExp(`restore: done, 1002 keys restored from backup ${id}`));
    expect(await redis(master, (c) => c.dbsize())).toBe(1003);
    expect(await redis(master, (c) => c.get("kv:999"))).toBe("value-999");
    expect(await redis(master, (c) => c.hget("profile:1", "name"))).toBe("ada");
    // Restored through the master, so the replicas have it too.
    const replica = hosts.find((h) => h !== master)!;
    await waitFor("the replica to hold the restored keys", async () => (await redis(replica, (c) => c.dbsize())) === 1003, 10_000);
  });

  it("keeps the newest verified backup of each recent hour and day, and deletes the rest and half-written folders", async () => {
    const ids = ["20250101T000500Z", "20250101T003000Z", "20250101T010000Z", "20250102T010000Z", "20250103T020000Z", "20250103T023000Z"];
    const marker = path.join(baseDir, "marker.json");
    fs.writeFileSync(marker, "{}\n");
    for (const old of ids) {
      for (const name of ["manifest.json", "verified.json"]) expect((await rclone("copyto", marker, `store:${store.bucket}/backups/${old}/${name}`)).status).toBe(0);
    }
    // A run that died after its upload: an RDB with no manifest.
    expect((await rclone("copyto", marker, `store:${store.bucket}/backups/20250103T030000Z/dump.rdb`)).status).toBe(0);

    const result = await runBackupScript(job, ["prune"], { BACKUP_KEEP_HOURLY: "3", BACKUP_KEEP_DAILY: "2" });
    expect(result.code, result.output).toBe(0);
    const left = [...new Set((await objects()).map((o) => o.split("/")[0]!))].sort();
    // Hourly: today's run (id), 2025-01-03 02h, 2025-01-02 01h. Daily: today, 2025-01-03. The
    // older ones and the orphan RDB are gone. The tampered backup is unverified but minutes
    // old: another run may still be writing it, so it stays until a run deadline has passed.
    expect(left).toEqual(["20250102T010000Z", "20250103T023000Z", id, tampered].sort());
    const later = await runBackupScript(job, ["prune"], { BACKUP_KEEP_HOURLY: "3", BACKUP_KEEP_DAILY: "2", BACKUP_RUN_DEADLINE_SECONDS: "1" });
    expect(later.code, later.output).toBe(0);
    expect([...new Set((await objects()).map((o) => o.split("/")[0]!))]).not.toContain(tampered);
  });

  it("keeps every verified backup of the last hour, not only its hour's newest: the base of an undo of a recent bad write", async () => {
    // Two of one clock hour, both about a minute old: an hour's slot alone keeps only the newer.
    // (Both from the start of the hour failed a CI run a minute past the hour: they were 61 min old.)
    const newer = Date.now() - 60_000;
    const older = Math.max(new Date(newer).setUTCMinutes(0, 0, 0), newer - 10_000);
    const recent = [older, older === newer ? newer + 1000 : newer].map((t) => new Date(t).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z"));
    const marker = path.join(baseDir, "marker.json");
    for (const fake of recent) {
      for (const name of ["manifest.json", "verified.json"]) expect((await rclone("copyto", marker, `store:${store.bucket}/backups/${fake}/${name}`)).status).toBe(0);
    }
    const result = await runBackupScript(job, ["prune"], { BACKUP_KEEP_HOURLY: "3", BACKUP_KEEP_DAILY: "2" });
    expect(result.code, result.output).toBe(0);
    expect([...new Set((await objects()).map((o) => o.split("/")[0]!))]).toEqual(expect.arrayContaining([...recent, id, "20250103T023000Z"]));
    for (const fake of recent) expect((await rclone("purge", `store:${store.bucket}/backups/${fake}`)).status).toBe(0);
  });

  it("fails without a healthy replica, and uploads nothing", async () => {
    const master = await masterOf();
    const replicas = topology.pods.filter((p) => p.host !== master);
    const before = (await objects()).length;
    await Promise.all(replicas.map((p) => topology.hold(p, "redis", true)));
    const result = await runBackupScript(job, ["take"]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/no healthy replica of .* \(a backup never loads the master\)/);
    expect((await objects()).length).toBe(before);
    for (const p of replicas) await topology.release(p, "redis");
    await masterOf();
  });
});

describe("backup.sh seed", () => {
  it("loads the newest verified backup into the first pod of an empty deployment, which the others then replicate", async () => {
    const restored = await suiteTopology(SUITE_BRIDGES.backupRestored, { baseDir: path.join(baseDir, "restored") });
    const fresh = restored.topology;
    const seed = { store: store.access, backup: "latest", scratchDir: path.join(baseDir, "seed-scratch") };
    try {
      // Peers that are not up yet may hold data: the first pod waits for them, and restores nothing while one does not answer.
      fresh.prepare();
      await expect(fresh.createPod(fresh.pods[0]!, { ...seed, env: { DISCOVERY_TIMEOUT_SECONDS: "3" } })).rejects.toThrow(/a peer still does not answer after 3s; it may hold data, so nothing is restored yet/);
      const firstData = fresh.redisEnv(fresh.pods[0]!).DATA_DIR!;
      await fresh.deletePod(fresh.pods[0]!);
      expect(fs.existsSync(path.join(firstData, "appendonlydir"))).toBe(false);

      const seeded = await fresh.start(seed);
      expect(seeded.map((s) => s.code)).toEqual([0, 0, 0]);
      expect(seeded[0]!.output).toMatch(/seed: restored 1002 keys from backup \d{8}T\d{6}Z/);
      expect(seeded[1]!.output).toMatch(/only the first pod seeds/);
      const freshHosts = restored.hosts;
      const view = await waitForConvergence(freshHosts, cfg.masterName, creds, CONVERGE_MS);
      expect(view.masters).toEqual([freshHosts[0]]);
      for (const h of freshHosts) {
        await waitFor(`${h} to hold the restored keys`, async () => (await redis(h, (c) => c.dbsize())) === 1002, 15_000);
      }

      // Never over existing data: a second seed on the same volumes does nothing.
      await fresh.deletePod(fresh.pods[0]!);
      const again = await fresh.createPod(fresh.pods[0]!, seed);
      expect(again!.code).toBe(0);
      expect(again!.output).toMatch(/already holds data; never restoring over it/);
    } finally {
      await fresh.shutdown();
    }
  });
});

describe("backup metrics", () => {
  it("pushes size, keys, duration and the newest verified backup's time to a Pushgateway", async () => {
    // On the node's address: the job pushes from its own namespace.
    const gateway = `${topology.hostAddress}:19912`;
    const pushgateway = await startPushgateway(gateway);
    try {
      const result = await runBackupScript({ ...job, pushgateway: gateway }, ["run"]);
      expect(result.code, result.output).toBe(0);
      const id = backupIdFrom(result.output)!;
      const metrics = await (await fetch(`http://${gateway}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*bucket="${store.bucket}"[^}]*\\} (\\S+)$`, "m").exec(metrics)?.[1]);
      expect(value("redis_dr_backup_last_keys")).toBe((await manifestOf(id)).keys);
      expect(value("redis_dr_backup_last_size_bytes")).toBe((await manifestOf(id)).bytes);
      expect(value("redis_dr_backup_last_suspect")).toBe(0);
      expect(value("redis_dr_backup_newest_verified_timestamp_seconds")).toBe((await manifestOf(id)).createdAtEpoch);
      expect(value("redis_dr_backup_max_age_seconds")).toBe(backupSettings(cfg).maxAgeSeconds);
      // Where the window a restore to a time reaches begins: a kept backup no newer than this one.
      expect(value("redis_dr_backup_oldest_kept_timestamp_seconds")).toBeGreaterThan(0);
      expect(value("redis_dr_backup_oldest_kept_timestamp_seconds")).toBeLessThanOrEqual((await manifestOf(id)).createdAtEpoch);
      expect(value("redis_dr_backup_last_success_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000 - 60);
      // Every backup metric an alert rule names is one the job pushes (the failure time below).
      const ruled = new Set(alertRuleGroups().flatMap((g) => g.rules.flatMap((r) => r.expr.match(/\bredis_dr_backup_[a-z_]+\b/g) ?? [])));
      expect(ruled.size).toBeGreaterThan(3);

      // A failed run pushes its failure time and keeps the last success's figures.
      const master = await masterOf();
      const replicas = topology.pods.filter((p) => p.host !== master);
      await Promise.all(replicas.map((p) => topology.hold(p, "redis", true)));
      const failed = await runBackupScript({ ...job, pushgateway: `${topology.hostAddress}:19912` }, ["run"]);
      for (const p of replicas) await topology.release(p, "redis");
      expect(failed.code).not.toBe(0);
      const after = await (await fetch(`http://${gateway}/metrics`)).text();
      const failure = Number(new RegExp(`^redis_dr_backup_last_failure_timestamp_seconds\\{[^}]*\\} (\\S+)$`, "m").exec(after)?.[1]);
      expect(failure).toBeGreaterThan(value("redis_dr_backup_last_success_timestamp_seconds") - 1);
      for (const name of ruled) expect(after, name).toMatch(new RegExp(`^${name}\\{`, "m"));
      expect(after).toMatch(new RegExp(`redis_dr_backup_last_keys\\{[^}]*\\} ${(await manifestOf(id)).keys}`));
      await masterOf();
    } finally {
      pushgateway.kill();
    }
  });
});

describe("a backup that shrank past backupShrinkAlarmPercent", () => {
  it("is kept but suspect: latest skips it, an id needs --allow-suspect, accept trusts it", async () => {
    const replicasHold = async (n: number) => {
      const master = await masterOf();
      await waitFor(`the replicas to hold ${n} keys`, async () => {
        const sizes = await Promise.all(hosts.filter((h) => h !== master).map((h) => redis(h, (c) => c.dbsize()).catch(() => -1)));
        return sizes.every((size) => size === n);
      }, 30_000);
      return master;
    };
    const master = await replicasHold(await redis(await masterOf(), (c) => c.dbsize()));
    const baseline = await runBackupScript(job, ["run"]);
    expect(baseline.code, baseline.output).toBe(0);
    const trusted = backupIdFrom(baseline.output)!;
    expect(baseline.output).not.toMatch(/SUSPECT/);

    // The incident: a FLUSHALL, then a few writes; the next scheduled backup takes it.
    await redis(master, async (c) => {
      await c.flushall();
      await c.set("kv:after-flush", "1");
    });
    await replicasHold(1);
    const shrunk = await runBackupScript(job, ["run"]);
    expect(shrunk.code, shrunk.output).toBe(0);
    const suspect = backupIdFrom(shrunk.output)!;
    expect(shrunk.output).toMatch(new RegExp(`backup ${suspect} is SUSPECT: 1 keys .* in ${trusted}`));
    expect((await runBackupScript(job, ["list"])).output).toMatch(new RegExp(`^${suspect} .* verified, suspect$`, "m"));
    expect(await objects()).toEqual(expect.arrayContaining([`${trusted}/verified.json`, `${suspect}/suspect.json`]));

    const latest = await runBackupScript(job, ["restore", "latest"]);
    expect(latest.code, latest.output).toBe(0);
    expect(latest.output).toMatch(new RegExp(`latest skips suspect backup\\(s\\) newer than ${trusted}: ${suspect}`));
    expect(latest.output).toMatch(new RegExp(`restore: done, \\d+ keys restored from backup ${trusted}`));
    expect(await redis(master, (c) => c.get("kv:999"))).toBe("value-999");

    const byId = await runBackupScript(job, ["restore", suspect]);
    expect(byId.code).not.toBe(0);
    expect(byId.output).toMatch(new RegExp(`backup ${suspect} is suspect .*refusing`));
    const allowed = await runBackupScript(job, ["restore", suspect, "--allow-suspect"]);
    expect(allowed.code, allowed.output).toBe(0);
    expect(allowed.output).toMatch(new RegExp(`restore: done, 1 keys restored from backup ${suspect}`));

    expect((await runBackupScript(job, ["accept", suspect])).code).toBe(0);
    const accepted = await runBackupScript(job, ["restore", "latest"]);
    expect(accepted.output).toMatch(new RegExp(`restored from backup ${suspect}`));
  }, 240_000); // four backup runs and two restores: on two loaded cores this passed 120 s (CI, 2026-12-04)
});
