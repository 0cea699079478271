import { DisasterResult, disasterViolations } from "../local/drill/disasterReport";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { APP_BINARY } from "../local/cluster/images";
import { PodBridge } from "../local/cluster/bridge";
import { localSecretConfig, renderClusterObjects } from "../local/cluster/render";
import { REDIS_PORT } from "../k8s/redis/render";
import { withConnection } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { localApiToken, localCredentials } from "../local/credentials";
import { ClusterTopology } from "../local/cluster/topology";
import { reportTable, timelineSvg } from "../local/drill/report";
import { RunOptions, runScenario } from "../local/drill/runner";
import { rto } from "../probe/writes";
import { Scenario, scenariosNamed } from "../local/drill/scenarios";
import { stackConfig } from "./helpers/stackConfig";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

// The drill harness against the rendered pods on the local kubelet: scenarios whose outcome
// is known beforehand, so a harness that miscounts or misses a failover fails here.
const FAST = {
  "redis-dr:sentinelDownAfterMs": "2000",
  "redis-dr:minReplicasMaxLagSeconds": "2",
  "redis-dr:sentinelFailoverTimeoutMs": "8000",
};
const cfg = stackConfig("dev", FAST);
let options: RunOptions;

beforeAll(async () => {
  if (!fs.existsSync(APP_BINARY)) throw new Error(`${APP_BINARY} is missing: npm test builds it (npm run app:build)`);
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-drill-test-"));
  const creds = localCredentials(baseDir);
  const apiToken = localApiToken(baseDir);
  const objects = await renderClusterObjects("dev", FAST, localSecretConfig(creds, apiToken));
  const { prefix, subnet } = SUITE_BRIDGES.drill;
  options = { cfg, baseDir, appPorts: [18590, 18591], withPeers: false, creds, apiToken, topology: (dir) => new ClusterTopology(cfg, objects, dir, new PodBridge(prefix, subnet), {}) };
});

const [baseline, loseTwoSentinels] = scenariosNamed(["baseline", "lose-two-sentinels"]);

describe("RTO", () => {
  const sample = (at: number, ok: boolean) => ({ at, seq: at, ok });
  const steady = (from: number, to: number) => Array.from({ length: (to - from) / 20 + 1 }, (_, i) => sample(from + i * 20, true));

  it("is the write pacing when nothing fails, and NaN when writes never recover", () => {
    expect(rto(steady(0, 1000), 500)).toBe(20);
    expect(rto([...steady(0, 1000), sample(1100, false)], 500)).toBeNaN();
  });

  it("runs from the fault to the first acknowledged write after it", () => {
    expect(rto([...steady(0, 100), sample(1000, false), sample(3000, false), ...steady(3500, 4000)], 110)).toBe(3390);
  });

  it("counts a request that succeeded only after seconds of retries", () => {
    expect(rto([...steady(0, 100), ...steady(3200, 3400)], 110)).toBe(3090);
  });

  it("is the longest outage when a scenario has several", () => {
    const samples = [...steady(0, 100), sample(200, false), ...steady(600, 5000), sample(5100, false), ...steady(7000, 7100)];
    expect(rto(samples, 100)).toBe(2000);
  });
});

describe("drill harness", () => {
  it("reports a no-fault baseline as no failover, no failed and no lost writes", async () => {
    const result = await runScenario(baseline!, options);
    const ours = result.writers[0]!;
    expect(result.violations).toEqual([]);
    expect(result.failover).toBe(false);
    expect(result.converged).toBe(true);
    // Every write was acknowledged, throughout the 5 s run, whatever rate a loaded machine allows.
    expect(ours.samples.every((s) => s.ok)).toBe(true);
    const acked = ours.samples.filter((s) => s.ok).map((s) => s.at);
    expect(acked.length).toBe(ours.acknowledged);
    expect(Math.max(...acked) - Math.min(...acked)).toBeGreaterThan(4000);
    expect(ours.failed).toBe(0);
    expect(ours.lost).toBe(0);
    expect(result.masterAfter).toBe(result.masterBefore);
    expect(reportTable([result])).toMatch(/\| baseline \| redis-dr-app \| \d+\.\d\d \| 0 \| \d+ \| 0 \| no \(no\) \| 0 \| yes \| ok \|/);
    expect(timelineSvg(result)).toContain("<svg");
  });

  it("counts acknowledged writes that the final master no longer holds as lost", async () => {
    const deleteTwoAcknowledgedWrites: Scenario = {
      ...baseline!,
      name: "delete-two-acknowledged",
      async run(ctx) {
        // Both writes must have happened first, however slowly a loaded machine writes.
        await waitFor("writes 3 and 7", () => withConnection(ctx.master.host, REDIS_PORT, ctx.creds.redisPassword, async (c) => (await c.exists("kv:drill-svc-3", "kv:drill-svc-7")) === 2), 20_000);
        await withConnection(ctx.master.host, REDIS_PORT, ctx.creds.redisPassword, (c) => c.del("kv:drill-svc-3", "kv:drill-svc-7"));
      },
    };
    const result = await runScenario(deleteTwoAcknowledgedWrites, options);
    expect(result.writers[0]!.lostSeqs).toEqual([3, 7]);
    expect(result.violations).toEqual(["2 acknowledged writes lost in a planned scenario"]);
  });

  it("sees no failover when two of three Sentinels are gone, and says so", async () => {
    const result = await runScenario(loseTwoSentinels!, options);
    const ours = result.writers[0]!;
    expect(result.failover).toBe(false);
    expect(result.recoveryAt).toBeGreaterThan(result.faultAt + 3 * cfg.sentinelDownAfterMs);
    expect(result.violations).toEqual([]);
    // The master was down with no failover: writes failed until its restart, and none was lost.
    expect(ours.failed).toBeGreaterThan(0);
    expect(ours.lost).toBe(0);
    expect(result.events.map((e) => e.event)).toContain("masters: none");
  });
});

describe("disaster verdicts", () => {
  const backupAt = Date.UTC(2026, 10, 25, 23, 0, 0);
  const result = (lostSeqs: number[], lostWindowMs: number, backupUsed = "20261125T230000Z"): DisasterResult => ({
    scenario: "region-loss",
    description: "",
    startedAt: backupAt - 20_000,
    faultAt: backupAt + 8000,
    endedAt: backupAt + 30_000,
    masterBefore: "",
    masterAfter: "",
    failover: false,
    expectFailover: false,
    twoMasterSamples: 0,
    twoWritableMasterSamples: 0,
    converged: true,
    writers: [
      {
        writer: "redis-dr-app",
        rtoMs: 20_000,
        acknowledged: 3,
        failed: 0,
        lost: lostSeqs.length,
        lostSeqs,
        samples: [
          { at: backupAt - 5000, seq: 1, ok: true },
          { at: backupAt + 2000, seq: 2, ok: true },
          { at: backupAt + 25_000, seq: 3, ok: true },
        ],
      },
    ],
    events: [],
    violations: [],
    disaster: "region-loss",
    backupIntervalSeconds: 10,
    backupUsed,
    backupAgeMs: 8000,
    rtoMs: 20_000,
    parts: {},
    lostWrites: lostSeqs.length,
    lostWindowMs,
    keysRestored: 100,
  });
  // Runs of 3 s and 4 s: the RPO is the 10 s interval plus the longest, 14 s.
  const backups = [
    { id: "20261125T225950Z", startedAt: backupAt - 8000, at: backupAt - 5000 },
    { id: "20261125T230000Z", startedAt: backupAt + 1000, at: backupAt + 5000 },
  ];

  it("accepts losing only writes newer than the newest verified backup, within the interval plus a run", () => {
    expect(disasterViolations(result([2], 6000), backups)).toEqual([]);
    // Past the interval but not past the run that was verifying the next backup.
    expect(disasterViolations(result([2], 13_500), backups)).toEqual([]);
  });

  it("fails a restore that lost a write the backup held, used an older backup, or lost more than an interval", () => {
    expect(disasterViolations(result([1, 2], 6000), backups)).toEqual(["1 acknowledged writes older than the backup are missing"]);
    expect(disasterViolations(result([], 0, "20261125T225950Z"), backups)).toEqual(["restored 20261125T225950Z, not the newest verified backup 20261125T230000Z"]);
    expect(disasterViolations(result([2], 14_500), backups)).toEqual(["lost 14.50 s of acknowledged writes, more than the backup interval plus the longest run (14.00 s)"]);
  });

  it("accepts a backup whose run began before the disaster and verified after it, never one begun after", () => {
    const verifiedLate = [...backups, { id: "20261125T230007Z", startedAt: backupAt + 7000, at: backupAt + 9500 }];
    expect(disasterViolations(result([], 0, "20261125T230007Z"), verifiedLate)).toEqual([]);
    const begunAfter = [...backups, { id: "20261125T230009Z", startedAt: backupAt + 9000, at: backupAt + 12_000 }];
    expect(disasterViolations(result([], 0, "20261125T230009Z"), begunAfter)).toEqual(["restored 20261125T230009Z, not the newest verified backup 20261125T230000Z"]);
  });

  it("fails a restore to a time that brought back writes from after it, or lost more than the archive interval before it", () => {
    const toATime = (writesFromAfter: number, lostWindowMs: number): DisasterResult => ({
      ...result(lostWindowMs > 0 ? [2] : [], lostWindowMs),
      archiveIntervalMs: 1000,
      restoredTo: { atMs: backupAt + 7000, writesFromAfter },
    });
    expect(disasterViolations(toATime(0, 800), backups)).toEqual([]);
    expect(disasterViolations(toATime(4, 0), backups)).toEqual(["4 acknowledged writes from more than 1 s after the chosen time were restored"]);
    expect(disasterViolations(toATime(0, 1200), backups)).toEqual(["lost 1.20 s of acknowledged writes, more than archiveIntervalMs (1.00 s)"]);
  });
});
