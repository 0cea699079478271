import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { archiveTiming, backupSettings } from "../../k8s/backup/settings";
import { REDIS_PORT } from "../../k8s/redis/render";
import { Credentials, withConnection } from "../../probe/connection";
import { rto, ServiceWriter } from "../../probe/writes";
import { LocalArchiver } from "../backup/archiver";
import { backupIdFrom, LocalBackupOptions, runBackupScript } from "../backup/job";
import { loggedOffsets, undoReport } from "../../ops/backup";
import { waitForConvergence } from "../measure/sentinelGroupWatch";
import { LocalObjectStore } from "../backup/objectStore";
import { TopologyApps, ClusterTopology } from "../cluster/topology";
import { DISASTERS, DisasterName, DisasterResult, disasterViolations, idTime, VerifiedBackup } from "./disasterReport";
import { ScenarioResult } from "./runner";
import { lostWrites } from "./writers";
import { ARGV_SCAN_MS, argvViolations, topologySecrets, watchArgv } from "./argvWatch";

export interface DisasterOptions {
  cfg: StackConfig;
  baseDir: string;
  /** The run's credentials (the cluster runtime's pods were rendered with them). */
  creds: Credentials;
  apiToken: string;
  /** A fresh topology living in DIR (as for the failover scenarios). */
  topology: (dir: string) => ClusterTopology;
  appPorts: [number, number];
  /** Seconds between backup runs (the local stand-in for backupSchedule). */
  backupIntervalSeconds: number;
  /** Verified backups to have before the disaster. */
  backupsBefore: number;
  storePort: number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const s = (ms: number) => (ms / 1000).toFixed(2);

export async function runDisaster(name: DisasterName, opts: DisasterOptions): Promise<DisasterResult> {
  const log = opts.log ?? (() => undefined);
  const dir = path.join(opts.baseDir, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const { cfg, creds, apiToken } = opts;
  const events: ScenarioResult["events"] = [];
  const note = (event: string) => {
    events.push({ at: Date.now(), event });
    log(`    ${event}`);
  };
  const topology = opts.topology(path.join(dir, "region"));
  const hosts = topology.pods.map((p) => p.host);
  topology.prepare();
  const store = new LocalObjectStore(path.join(dir, "objects"), "redis-dr-drill-backups", opts.storePort, topology.hostAddress);
  let apps: TopologyApps | undefined;
  const startApps = async () => {
    apps = await topology.startApps(opts.appPorts);
    return apps.urls;
  };
  const job = (): LocalBackupOptions => ({ target: topology.backupTarget(), store: store.access, settings: backupSettings(cfg), scratchDir: path.join(dir, "scratch") });

  // Backups on the drill's own schedule, one at a time, as the CronJob runs them.
  const backups: VerifiedBackup[] = [];
  let backingUp = true;
  let backupLoop: Promise<void> | undefined;
  let writer: ServiceWriter | undefined;
  let archiver: LocalArchiver | undefined;
  let stopArgvWatch = () => [] as string[];
  try {
    await store.start();
    await topology.start();
    stopArgvWatch = watchArgv(topologySecrets(creds, apiToken), ARGV_SCAN_MS);
    await waitForConvergence(hosts, cfg.masterName, creds, 120_000);
    if (name !== "bad-write") {
      archiver = new LocalArchiver({ job: job(), spoolDir: path.join(dir, "archive", "spool"), timing: archiveTiming(cfg) });
      await archiver.start();
      note(`continuous archive running (archiveIntervalMs ${cfg.archiveIntervalMs})`);
    }
    // The URLs stay the same when a recovered region's instances take over (the public entry moves).
    writer = new ServiceWriter(await startApps(), apiToken);
    const startedAt = Date.now();
    writer.start();
    backupLoop = (async () => {
      while (backingUp) {
        const tick = Date.now();
        const result = await runBackupScript(job(), ["run"]);
        fs.appendFileSync(path.join(dir, "backup.log"), result.output);
        const id = backupIdFrom(result.output);
        if (result.code === 0 && id) {
          backups.push({ id, startedAt: tick, at: Date.now() });
          note(`backup ${id} verified`);
        } else if (backingUp) note(`backup run failed (exit ${result.code}): ${result.output.trim().split("\n").at(-2) ?? ""}`);
        while (backingUp && Date.now() < tick + opts.backupIntervalSeconds * 1000) await sleep(100);
      }
    })();
    const backupsDue = Date.now() + (opts.backupsBefore + 2) * (opts.backupIntervalSeconds + 30) * 1000;
    while (backups.length < opts.backupsBefore) {
      if (Date.now() > backupsDue) throw new Error(`no ${opts.backupsBefore} verified backups in time; see ${path.join(dir, "backup.log")}`);
      await sleep(200);
    }
    // The disaster strikes partway into the next interval, after more acknowledged writes.
    await sleep((opts.backupIntervalSeconds * 1000) / 2);

    if (name === "archive-failover") {
      // The base predates the failover, so the restore replays the archive across it.
      backingUp = false;
      await backupLoop;
    }
    const faultAt = Date.now();
    const parts: Record<string, number> = {};
    let keysRestored = 0;
    let backupUsed = backups.at(-1)!.id;
    let restoreTo: number | undefined;
    let regionLostAt: number | undefined;
    if (name === "archive-failover") {
      const before = (await waitForConvergence(hosts, cfg.masterName, creds, 30_000)).masters[0]!;
      await topology.crash(topology.pods.find((p) => p.host === before)!, "redis");
      note(`fault: the master's redis on ${before} killed while archiving`);
      const promoted = await waitForNewMaster(hosts, before, cfg.masterName, creds);
      parts.failover = Date.now() - faultAt;
      note(`failover: ${promoted} promoted; the writes go on`);
      await sleep(3000);
      restoreTo = Date.now();
      note(`the time to restore to: ${new Date(restoreTo).toISOString()}`);
      await sleep(2000);
    }
    if (name === "region-loss" || name === "archive-failover") {
      const lostAt = (regionLostAt = Date.now());
      note("fault: region lost (every pod, volume and service instance)");
      backingUp = false;
      // Recovery does not wait for a backup run that was under way: it dies with the region, and
      // so does the archiver with whatever it had not shipped yet.
      await Promise.all([archiver!.stop("SIGKILL"), topology.destroy()]);
      const shipped = archiver!.shipped();
      note(shipped ? `the store held writes up to ${s(lostAt - shipped.lastAtMs)} s before the loss (last upload pass ${s(shipped.passMs)} s)` : "the archive had stored nothing");
      apps = undefined;
      note("volumes destroyed; a new topology is started from the object store");

      const seedStart = Date.now();
      const marks: Record<string, number> = {};
      const seeded = (await topology.start({
        store: store.access,
        backup: "latest",
        at: restoreTo === undefined ? "latest" : new Date(restoreTo).toISOString(),
        scratchDir: path.join(dir, "seed-scratch"),
        onOutput: (line) => {
          if (/downloading /.test(line)) marks.download ??= Date.now();
          if (/restore: plan: /.test(line)) marks.replay ??= Date.now();
          if (/loading \d+ bytes into a scratch/.test(line)) marks.load ??= Date.now();
        },
      }))[0]!;
      const seededAt = Date.now();
      backupUsed = /from backup (\S+)/.exec(seeded.output)?.[1] ?? backupUsed;
      keysRestored = Number(/restored (\d+) keys/.exec(seeded.output)?.[1] ?? 0);
      note(`seeded from ${backupUsed}: ${keysRestored} keys`);
      parts.start = (marks.download ?? seedStart) - lostAt;
      // The seed downloads the backup and the archive, replays it in a scratch server, then loads the result.
      parts.download = (marks.replay ?? marks.load ?? seededAt) - (marks.download ?? seedStart);
      if (marks.replay) parts.replay = (marks.load ?? seededAt) - marks.replay;
      parts.load = seededAt - (marks.load ?? seededAt);
      await waitForConvergence(hosts, cfg.masterName, creds, 120_000);
      await waitForReplicasSynced(hosts, creds, keysRestored);
      const syncedAt = Date.now();
      parts.sync = syncedAt - seededAt;
      note("new topology converged, replicas synced");
      await startApps();
      parts.service = Date.now() - syncedAt;
      await backupLoop;
    } else if (name === "bad-write-undo") {
      const master = (await waitForConvergence(hosts, cfg.masterName, creds, 30_000)).masters[0]!;
      await withConnection(master, REDIS_PORT, creds.redisPassword, (c) => c.flushall());
      note("fault: FLUSHALL on the master; the writes go on");
      const findStart = Date.now();
      // The operator looks for it once the archive holds it (within archiveIntervalMs).
      let offset: string | undefined;
      while (!offset) {
        if (Date.now() > findStart + 30_000) throw new Error("backup log did not show the FLUSHALL within 30 s");
        const listedAt = Date.now();
        const listed = await runBackupScript(job(), ["log", "--match", "FLUSHALL", "--since", new Date(faultAt - 1000).toISOString()]);
        parts.log = Date.now() - listedAt;
        if (listed.code !== 0) throw new Error(`backup log failed: ${listed.output}`);
        offset = loggedOffsets(listed.output, "FLUSHALL")[0];
        if (!offset) await sleep(200);
      }
      parts.find = Date.now() - findStart;
      note(`backup log: the FLUSHALL ends at offset ${offset}`);
      const undoStart = Date.now();
      const undone = await runBackupScript(job(), ["undo", offset]);
      fs.writeFileSync(path.join(dir, "undo.log"), undone.output);
      if (undone.code !== 0) throw new Error(`undo failed: ${undone.output}`);
      parts.undo = Date.now() - undoStart;
      const report = undoReport(undone.output);
      backupUsed = report.base ?? backupUsed;
      keysRestored = report.keysSet;
      parts.held = report.heldMs;
      note(`undone on base ${backupUsed}: ${keysRestored} keys set, writes held ${parts.held} ms`);
      backingUp = false;
      await backupLoop;
    } else {
      const master = (await waitForConvergence(hosts, cfg.masterName, creds, 30_000)).masters[0]!;
      await withConnection(master, REDIS_PORT, creds.redisPassword, (c) => c.flushall());
      note("fault: FLUSHALL on the master");
      const restoreStart = Date.now();
      const restored = await runBackupScript(job(), ["restore", "latest"]);
      if (restored.code !== 0) throw new Error(`restore failed: ${restored.output}`);
      backupUsed = /restored from backup (\S+)/.exec(restored.output)?.[1] ?? backupUsed;
      keysRestored = Number(/done, (\d+) keys restored/.exec(restored.output)?.[1] ?? 0);
      parts.restore = Date.now() - restoreStart;
      note(`restored ${keysRestored} keys from ${backupUsed}`);
      backingUp = false;
      await backupLoop;
    }
    // Writes go on through the (new) service; the first acknowledged one ends the outage.
    await sleep(3000);
    await writer.stop();
    const endedAt = Date.now();
    const view = await waitForConvergence(hosts, cfg.masterName, creds, 30_000);
    const masterAfter = view.masters[0]!;
    const missing = await lostWrites(writer, masterAfter, creds);
    const ackedAt = new Map(writer.samples.filter((s) => s.ok).map((s) => [s.seq, s.at]));
    // Restored to a time: only what was acknowledged by then had to come back, and what the old
    // region acknowledged more than a second later must not have.
    const lost = restoreTo === undefined ? missing : missing.filter((seq) => ackedAt.get(seq)! <= restoreTo!);
    const restoredTo =
      restoreTo === undefined
        ? undefined
        : { atMs: restoreTo, writesFromAfter: [...ackedAt].filter(([seq, at]) => at > restoreTo! + 1000 && at < regionLostAt! && !missing.includes(seq)).length };
    const lostAt = lost.map((seq) => ackedAt.get(seq)!);
    const backupTakenAt = idTime(backupUsed);
    const writesRtoMs = rto(writer.samples, regionLostAt ?? faultAt);
    const rtoMs = regionLostAt !== undefined ? writesRtoMs : name === "bad-write-undo" ? parts.find! + parts.undo! : parts.restore!;
    const result: DisasterResult = {
      scenario: name,
      description: DISASTERS[name],
      startedAt,
      faultAt,
      endedAt,
      masterBefore: "",
      masterAfter,
      failover: false,
      expectFailover: false,
      twoMasterSamples: 0,
      twoWritableMasterSamples: 0,
      converged: true,
      writers: [
        {
          writer: writer.name,
          rtoMs: writesRtoMs,
          acknowledged: writer.samples.filter((s) => s.ok).length,
          failed: writer.samples.filter((s) => !s.ok).length,
          lost: lost.length,
          lostSeqs: lost,
          samples: writer.samples,
        },
      ],
      events,
      violations: [],
      disaster: name,
      backupIntervalSeconds: opts.backupIntervalSeconds,
      ...(archiver ? { archiveIntervalMs: cfg.archiveIntervalMs } : {}),
      ...(name === "bad-write-undo" ? { undone: true } : {}),
      ...(restoredTo ? { restoredTo } : {}),
      backupUsed,
      backupAgeMs: faultAt - backupTakenAt,
      rtoMs,
      parts,
      lostWrites: lost.length,
      lostWindowMs: lostAt.length ? (restoreTo ?? faultAt) - Math.min(...lostAt) : 0,
      keysRestored,
    };
    result.violations = [...disasterViolations(result, backups), ...argvViolations(stopArgvWatch())];
    return result;
  } finally {
    backingUp = false;
    stopArgvWatch();
    await archiver?.stop();
    await backupLoop?.catch(() => undefined);
    await writer?.stop();
    await apps?.stop();
    await topology.shutdown();
    await store.stop();
  }
}

/** Every replica holds the restored keys (a full sync from the seeded first pod). */
async function waitForReplicasSynced(hosts: string[], creds: Credentials, keys: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (const host of hosts) {
    for (;;) {
      const size = await withConnection(host, REDIS_PORT, creds.redisPassword, (c) => c.dbsize(), 2000).catch(() => -1);
      if (size >= keys) break;
      if (Date.now() > deadline) throw new Error(`${host} holds ${size} of ${keys} keys after 120 s`);
      await sleep(100);
    }
  }
}

/** Until the Sentinels agree on a master other than BEFORE (a failover), which it returns. */
async function waitForNewMaster(hosts: string[], before: string, masterName: string, creds: Credentials): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = await waitForConvergence(hosts, masterName, creds, 60_000).catch(() => undefined);
    const master = view?.masters[0];
    if (master && master !== before) return master;
    if (Date.now() > deadline) throw new Error(`no failover from ${before} within 60 s`);
    await sleep(200);
  }
}
