import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { sentinelGroupView, waitForConvergence, watchMasters } from "../local/measure/sentinelGroupWatch";
import { REDIS_PORT } from "../k8s/redis/render";
import { withConnection } from "../probe/connection";
import { roleOf } from "../probe/roles";
import { waitFor } from "../probe/wait";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./helpers/fastFailover";
import { CONVERGE_MS, hostsOf, podAt, redisTierPerTest } from "./helpers/redisTier";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

// Every pod of the tier stopped and started again together (a node-pool replacement, a
// power loss), with the CI drills' down-after (2000 ms): no margin for a stale or empty pod
// to win the restart in. The rendered pods on the local kubelet.
const cfg = FAST_FAILOVER_CFG;
const creds = TEST_CREDENTIALS;
const { fresh: newTopology, convergedWithWrites } = redisTierPerTest(SUITE_BRIDGES.wholeTierRestart);

describe("Redis tier restarted whole, with real redis-server and redis-sentinel", () => {
  it("restarts every pod at once and resumes the last master from saved state, Sentinel ids intact", async () => {
    // The CI drills' down-after (2000 ms): the restart must settle on the last master without a margin to hide in.
    const t = await newTopology();
    await t.start();
    const first = await waitForConvergence(hostsOf(t), cfg.masterName, creds, CONVERGE_MS);
    // Move the master off pod 0 so a naive "pod 0 is master" restart would be caught.
    await t.hold(podAt(t, first.masters[0]!), "redis");
    const moved = await waitFor(
      "failover",
      async () => (await sentinelGroupView(hostsOf(t), cfg.masterName, creds)).masters.find((m) => m !== first.masters[0]),
      15_000,
    );
    await t.release(podAt(t, first.masters[0]!), "redis");
    await waitForConvergence(hostsOf(t), cfg.masterName, creds, CONVERGE_MS);
    await withConnection(moved, REDIS_PORT, creds.redisPassword, async (c) => {
      await c.set("survives", "restart");
      return c.call("WAIT", "2", "2000");
    });
    const sentinelIds = () => t.pods.map((p) => /^sentinel myid (\S+)$/m.exec(fs.readFileSync(path.join(t.redisEnv(p).DATA_DIR!, "sentinel", "sentinel.conf"), "utf8"))![1]);
    const ids = sentinelIds();

    // Every node shuts down at once (SIGTERM, the grace period, no hook), then every pod comes back.
    await Promise.all(t.pods.map((p) => t.deletePod(p, false)));
    await t.start();
    const final = await waitForConvergence(hostsOf(t), cfg.masterName, creds, CONVERGE_MS);
    expect(final.masters).toEqual([moved]);
    expect(await withConnection(moved, REDIS_PORT, creds.redisPassword, (c) => c.get("survives"))).toBe("restart");
    expect(sentinelIds()).toEqual(ids);
    for (const pod of t.pods) {
      const peers = (await withConnection(pod.host, 26379, creds.sentinelPassword, (c) => c.call("SENTINEL", "SENTINELS", cfg.masterName))) as unknown[];
      expect(peers).toHaveLength(2);
      expect((await roleOf(pod.host, creds)).role).toBe(pod.host === moved ? "master" : "slave");
    }
  });

  it("restarts every pod after a failover away from a hung master and never brings the hung pod back as master", async () => {
    const { t, oldMaster, writer } = await convergedWithWrites();
    t.signal(oldMaster, "redis", "SIGSTOP");
    t.signal(oldMaster, "sentinel", "SIGSTOP");
    const hungAt = Date.now();
    const newMaster = await waitFor(
      "Sentinel to fail over away from the hung master",
      async () => (await sentinelGroupView(hostsOf(t).filter((h) => h !== oldMaster.host), cfg.masterName, creds)).masters.find((m) => m !== oldMaster.host),
      20_000,
    );
    await waitFor("writes acknowledged by the new master", async () => writer.samples.filter((s) => s.ok && s.at > hungAt).length > 100, 20_000);
    await writer.stop();
    const afterFailover = writer.samples.filter((s) => s.ok && s.at > hungAt).length;

    // A power loss: every node lost at once, the hung processes killed too, and every pod back where it was.
    await Promise.all(t.pods.map((p) => t.losePod(p)));
    await waitFor("every process to exit", async () => t.pods.every((p) => !t.isRunning(p, "redis") && !t.isRunning(p, "sentinel")), 10_000);
    const stopWatch = watchMasters(hostsOf(t), cfg.masterName, creds);
    await Promise.all(t.pods.map((p) => t.recoverPod(p)));
    const final = await waitForConvergence(hostsOf(t), cfg.masterName, creds, CONVERGE_MS);
    expect(final.masters).toEqual([newMaster]);
    expect((await stopWatch()).twoMasters).toBe(0);
    expect(t.log(oldMaster, "redis")).toMatch(/Sentinels settled on \S+ as master \(config epoch [1-9]\d*, 3 of 3 answering\); replicating it/);
    expect(afterFailover).toBeGreaterThan(100);
    expect(await writer.lostOn(newMaster)).toEqual([]);
  });
});
