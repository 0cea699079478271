import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { ClusterTopology, TopologyPod } from "../local/cluster/topology";
import { roleOf, sentinelMaster } from "../probe/roles";
import { withConnection } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { REDIS_PORT } from "../k8s/redis/render";
import { CONVERGE_MS } from "./helpers/redisTier";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./helpers/fastFailover";
import { suiteTopology } from "./helpers/clusterTopology";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

// follow-promotion.sh, the promotion-follower container, against real redis-server and
// redis-sentinel in the rendered pods on the local kubelet: a surviving replica moves to the
// replica Sentinel promotes, and nothing else moves a replica.
const cfg = FAST_FAILOVER_CFG;
const creds = TEST_CREDENTIALS;
let topology: ClusterTopology;
let hosts: string[];
let master: TopologyPod;
let replicas: TopologyPod[];

const promotion = (promoted: string, failed: string, masterName = cfg.masterName) =>
  `slave ${promoted}:6379 ${promoted} 6379 @ ${masterName} ${failed} 6379`;
const handle = (pod: TopologyPod, payload: string) => topology.exec(pod, "follow-promotion.sh", ["handle", payload], { PROMOTION_WAIT_SECONDS: "1" });

beforeAll(async () => {
  ({ topology, hosts } = await suiteTopology(SUITE_BRIDGES.promotionFollower));
  await topology.start();
  const view = await waitForConvergence(hosts, cfg.masterName, creds, CONVERGE_MS);
  master = topology.pods.find((p) => p.host === view.masters[0])!;
  replicas = topology.pods.filter((p) => p !== master);
  await replicasSynced();
});

/** Both replicas follow the master with their link up, and each follower has given its replica its priority back. */
async function replicasSynced(): Promise<void> {
  await waitFor(
    "both replicas to sync and be promotable",
    async () =>
      (await Promise.all(replicas.map((r) => roleOf(r.host, creds)))).every((r) => r.role === "slave" && r.master === master.host && r.state === "connected") &&
      replicas.every((r) => topology.log(r, "promotion-follower").includes("promotable again")),
    60_000,
  );
}
afterAll(() => topology?.shutdown());

describe("promotion follower: events it must not act on", () => {
  it("leaves a replica alone when the named replica was never promoted", async () => {
    const [a, b] = replicas as [TopologyPod, TopologyPod];
    const result = await handle(a, promotion(b.host, master.host));
    expect(result.output).toContain(`not following ${b.host}: it did not report ROLE master`);
    expect(await roleOf(a.host, creds)).toMatchObject({ role: "slave", master: master.host });
  });

  it("leaves a replica alone when the failed master is not the one it follows, or the event is about another master name or itself", async () => {
    const [a, b] = replicas as [TopologyPod, TopologyPod];
    const elsewhere = await handle(a, promotion(b.host, "10.9.9.9"));
    expect(elsewhere.output).toContain(`this replica follows ${master.host}, not the failed 10.9.9.9`);
    expect((await handle(a, promotion(b.host, master.host, "othermaster"))).output).toBe("");
    expect((await handle(a, promotion(a.host, master.host))).output).toBe("");
    expect(await roleOf(a.host, creds)).toMatchObject({ role: "slave", master: master.host });
  });
});

describe("promotion follower: a promotion it follows", () => {
  it("moves a replica of the failed master to the named replica once that one answers ROLE master", async () => {
    const [a, b] = replicas as [TopologyPod, TopologyPod];
    try {
      await withConnection(b.host, REDIS_PORT, creds.redisPassword, (c) => c.call("REPLICAOF", "NO", "ONE"));
      const result = await handle(a, promotion(b.host, master.host));
      expect(result.output).toContain(`following ${b.host} (promoted in place of ${master.host}) ahead of Sentinel's reconfiguration`);
      expect(await roleOf(a.host, creds)).toMatchObject({ role: "slave", master: b.host });
      expect((await handle(a, promotion(b.host, master.host))).output).toContain(`already following ${b.host}`);
    } finally {
      for (const r of [b, a]) await withConnection(r.host, REDIS_PORT, creds.redisPassword, (c) => c.call("REPLICAOF", master.host, String(REDIS_PORT)));
    }
    await replicasSynced();
  });
});

describe("promotion follower: a failover", () => {
  it("moves the surviving replica to the promoted one as soon as the leader announces it", async () => {
    // Killed and kept down, so Sentinel fails over (a restart within down-after would hide it).
    await topology.hold(master, "redis");
    const survivors = hosts.filter((h) => h !== master.host);
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
    const survivor = replicas.find((p) => p.host !== promoted)!;
    // Wait for whatever the follower decided, so a wrong decision fails on its own log line.
    const decided = /following|REPLICAOF/;
    const followerLog = () => topology.log(survivor, "promotion-follower");
    await waitFor("the follower to act on the promotion", async () => decided.test(followerLog()), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; its log:\n${followerLog()}`);
    });
    // Sentinel polls the promoted replica's INFO once a second before it reconfigures the others; on a
    // loaded machine it can win that race, and the follower then says so rather than moving anything.
    expect(followerLog()).toMatch(
      new RegExp(`following ${promoted} \\(promoted in place of ${master.host}\\) ahead of Sentinel's reconfiguration|already following ${promoted}: Sentinel reconfigured this replica first`),
    );
    expect(await roleOf(survivor.host, creds)).toMatchObject({ role: "slave", master: promoted });
    // The promoted replica's own follower saw itself named and did nothing.
    const promotedPod = topology.pods.find((p) => p.host === promoted)!;
    expect(topology.log(promotedPod, "promotion-follower")).not.toContain("following");
  });
});
