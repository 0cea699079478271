import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { LocalPod, LocalTopology } from "../local/process/topology";
import { roleOf, sentinelMaster } from "../probe/roles";
import { withConnection } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { REDIS_PORT } from "../k8s/redis/render";
import { CONVERGE_MS } from "./helpers/redisTier";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./helpers/fastFailover";
import { SUITE_LOOPBACK } from "./helpers/suiteNetworks";
import { LoopbackNetwork } from "../local/process/network";

// follow-promotion.sh, the promotion-follower container, against real redis-server and
// redis-sentinel: a surviving replica moves to the replica Sentinel promotes, and nothing else
// moves a replica.
const cfg = FAST_FAILOVER_CFG;
const creds = TEST_CREDENTIALS;
const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-follower-"));
const topology = new LocalTopology({ cfg, baseDir, network: new LoopbackNetwork(cfg.redisReplicas, SUITE_LOOPBACK.promotionFollower), ...creds });
const hosts = topology.pods.map((p) => p.address);
let master: LocalPod;
let replicas: LocalPod[];

const promotion = (promoted: string, failed: string, masterName = cfg.masterName) =>
  `slave ${promoted}:6379 ${promoted} 6379 @ ${masterName} ${failed} 6379`;
const handle = (pod: LocalPod, payload: string) =>
  topology.runScript(pod, "follow-promotion.sh", ["handle", payload], { PROMOTION_WAIT_SECONDS: "1" });

beforeAll(async () => {
  topology.startAll();
  const view = await waitForConvergence(hosts, cfg.masterName, creds, CONVERGE_MS);
  master = topology.pods.find((p) => p.address === view.masters[0])!;
  replicas = topology.pods.filter((p) => p !== master);
  await replicasSynced();
});

/** Both replicas follow the master with their link up, and each follower has given its replica its priority back. */
async function replicasSynced(): Promise<void> {
  await waitFor(
    "both replicas to sync and be promotable",
    async () =>
      (await Promise.all(replicas.map((r) => roleOf(r.address, creds)))).every((r) => r.role === "slave" && r.master === master.address && r.state === "connected") &&
      replicas.every((r) => topology.log(r, "promotion-follower").includes("promotable again")),
    60_000,
  );
}
afterAll(() => topology.stopAll());

describe("promotion follower: events it must not act on", () => {
  it("leaves a replica alone when the named replica was never promoted", async () => {
    const [a, b] = replicas as [LocalPod, LocalPod];
    const result = await handle(a, promotion(b.address, master.address));
    expect(result.output).toContain(`not following ${b.address}: it did not report ROLE master`);
    expect(await roleOf(a.address, creds)).toMatchObject({ role: "slave", master: master.address });
  });

  it("leaves a replica alone when the failed master is not the one it follows, or the event is about another master name or itself", async () => {
    const [a, b] = replicas as [LocalPod, LocalPod];
    const elsewhere = await handle(a, promotion(b.address, "10.9.9.9"));
    expect(elsewhere.output).toContain(`this replica follows ${master.address}, not the failed 10.9.9.9`);
    expect((await handle(a, promotion(b.address, master.address, "othermaster"))).output).toBe("");
    expect((await handle(a, promotion(a.address, master.address))).output).toBe("");
    expect(await roleOf(a.address, creds)).toMatchObject({ role: "slave", master: master.address });
  });
});

describe("promotion follower: a promotion it follows", () => {
  it("moves a replica of the failed master to the named replica once that one answers ROLE master", async () => {
    const [a, b] = replicas as [LocalPod, LocalPod];
    try {
      await withConnection(b.address, REDIS_PORT, creds.redisPassword, (c) => c.call("REPLICAOF", "NO", "ONE"));
      const result = await handle(a, promotion(b.address, master.address));
      expect(result.output).toContain(`following ${b.address} (promoted in place of ${master.address}) ahead of Sentinel's reconfiguration`);
      expect(await roleOf(a.address, creds)).toMatchObject({ role: "slave", master: b.address });
      expect((await handle(a, promotion(b.address, master.address))).output).toContain(`already following ${b.address}`);
    } finally {
      for (const r of [b, a]) await withConnection(r.address, REDIS_PORT, creds.redisPassword, (c) => c.call("REPLICAOF", master.address, String(REDIS_PORT)));
    }
    await replicasSynced();
  });
});

describe("promotion follower: a failover", () => {
  it("moves the surviving replica to the promoted one as soon as the leader announces it", async () => {
    topology.signal(master, "redis", "SIGKILL");
    const survivors = hosts.filter((h) => h !== master.address);
    let promoted = "";
    await waitFor(
      "the surviving Sentinels to agree on a promoted replica",
      async () => {
        const named = await Promise.all(survivors.map((h) => sentinelMaster(h, cfg.masterName, creds)));
        promoted = named[0] ?? "";
        return survivors.includes(promoted) && named.every((n) => n === promoted);
      },
      30_000,
    );
    const survivor = replicas.find((p) => p.address !== promoted)!;
    // Wait for whatever the follower decided, so a wrong decision fails on its own log line.
    const decided = /following|REPLICAOF/;
    const followerLog = () => topology.log(survivor, "promotion-follower");
    await waitFor("the follower to act on the promotion", async () => decided.test(followerLog()), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; its log:\n${followerLog()}`);
    });
    // Sentinel polls the promoted replica's INFO once a second before it reconfigures the others; on a
    // loaded machine it can win that race, and the follower then says so rather than moving anything.
    expect(followerLog()).toMatch(
      new RegExp(`following ${promoted} \\(promoted in place of ${master.address}\\) ahead of Sentinel's reconfiguration|already following ${promoted}: Sentinel reconfigured this replica first`),
    );
    expect(await roleOf(survivor.address, creds)).toMatchObject({ role: "slave", master: promoted });
    // The promoted replica's own follower saw itself named and did nothing.
    const promotedPod = topology.pods.find((p) => p.address === promoted)!;
    expect(topology.log(promotedPod, "promotion-follower")).not.toContain("following");
  });
});
