import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { REDIS_PORT } from "../k8s/redis/render";
import { waitForConvergence, watchMasters } from "../local/measure/sentinelGroupWatch";
import { CONVERGE_MS } from "./helpers/redisTier";
import { ClusterTopology } from "../local/cluster/topology";
import { topologyPods } from "../local/podRunner";
import { kubectlPods, switchover } from "../ops/switchover";
import { majorityMaster } from "../probe/agreement";
import { withConnection } from "../probe/connection";
import { roleOf, sentinelMaster } from "../probe/roles";
import { waitFor } from "../probe/wait";
import { AckWriter } from "./helpers/ackWriter";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./helpers/fastFailover";
import { suiteTopology } from "./helpers/clusterTopology";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

// The operator's switchover (ops/switchover.ts running k8s/redis/scripts/switchover.sh in the
// master pod, exactly as the preStop hook does) against real redis-server and redis-sentinel
// in the rendered pods on the local kubelet.
const cfg = FAST_FAILOVER_CFG;
const creds = TEST_CREDENTIALS;

let topology: ClusterTopology | undefined;
afterEach(async () => {
  await topology?.shutdown();
  topology = undefined;
});

/** A converged tier, and its pods as ops sees them, switchover.sh given SYNC_WAIT_SECONDS. */
async function converged(syncWaitSeconds = 1) {
  const suite = await suiteTopology(SUITE_BRIDGES.switchover);
  topology = suite.topology;
  await topology.start();
  const view = await waitForConvergence(suite.hosts, cfg.masterName, creds, CONVERGE_MS);
  const runner = topologyPods(topology, { SYNC_WAIT_SECONDS: String(syncWaitSeconds), PRIORITY_WAIT_SECONDS: "15" });
  return { t: topology, runner, hosts: suite.hosts, master: topology.pods.find((p) => p.host === view.masters[0])! };
}

const priorities = (hosts: string[]) =>
  Promise.all(hosts.map((h) => withConnection(h, REDIS_PORT, creds.redisPassword, (c) => c.call("CONFIG", "GET", "replica-priority")).then((r) => (r as string[])[1])));

/** A replica is promotable only once its first sync is done and Sentinel's INFO has seen that (start-redis.sh). */
const promotable = (master: string, target: string) =>
  waitFor("Sentinel to see the target promotable", async () => {
    const replicas = (await withConnection(master, 26379, creds.sentinelPassword, (c) => c.call("SENTINEL", "REPLICAS", cfg.masterName))) as string[][];
    const fields = replicas.map((r) => Object.fromEntries(r.flatMap((v, i) => (i % 2 ? [] : [[v, r[i + 1]]]))));
    return fields.some((f) => f.ip === target && Number(f["slave-priority"]) > 0);
  }, 15_000);

/** Writes a stopped replica cannot have; one good replica remains, so min-replicas-to-write is met once its acknowledgement is fresh. */
const writesTheTargetCannotHave = (master: string) =>
  waitFor("the master to take writes the stopped target cannot have", () =>
    withConnection(master, REDIS_PORT, creds.redisPassword, async (c) => {
      for (let i = 0; i < 20; i++) await c.set(`behind-${i}`, "x");
      return true;
    }).catch(() => false),
  10_000);

describe("switchover", () => {
  it("moves the master to the chosen replica with no acknowledged write lost and a short write pause", async () => {
    const { t, runner, hosts, master } = await converged();
    const target = t.pods.filter((p) => p !== master).at(-1)!;
    const writer = new AckWriter(hosts, cfg.masterName, creds, "drill:acked", 5);
    writer.start();
    await waitFor("writes to flow", async () => writer.acked.length > 50, 5000);
    const stopWatch = watchMasters(hosts, cfg.masterName, creds);

    const result = await switchover(runner, target.name);
    expect(result, result.output).toMatchObject({ from: master.name, to: target.name, code: 0 });
    expect(result.output).toMatch(new RegExp(`handover complete: ${target.host.replace(/\./g, "\\.")} is master`));
    const final = await waitForConvergence(hosts, cfg.masterName, creds, CONVERGE_MS);
    await waitFor("writes on the new master", async () => writer.samples.some((s) => s.ok && s.at > Date.now() - 200), 5000);
    await writer.stop();

    expect(final.masters).toEqual([target.host]);
    expect(majorityMaster(await Promise.all(hosts.map((h) => sentinelMaster(h, cfg.masterName, creds))), hosts.length)).toBe(target.host);
    expect(await roleOf(master.host, creds)).toMatchObject({ role: "slave", master: target.host });
    expect(await writer.lostOn(target.host)).toEqual([]);
    expect((await stopWatch()).twoWritable).toBe(0);
    // Sentinel was steered with replica-priority 0 on the others; every pod has its priority back.
    expect(await priorities(hosts)).toEqual(["100", "100", "100"]);
    const acked = writer.samples.filter((s) => s.ok).map((s) => s.at);
    const pause = Math.max(...acked.slice(1).map((at, i) => at - acked[i]!));
    console.log(`[figures] switchover: ${writer.acked.length} writes acknowledged, 0 lost, longest write pause ${pause} ms`);
  });

  it("refuses, changing nothing, when the target is not a replica that holds every byte", async () => {
    const { t, runner, hosts, master } = await converged();
    await expect(switchover(runner, master.name)).rejects.toThrow(`${master.name} is already the master`);
    await expect(switchover(runner, "redis-9")).rejects.toThrow("--to redis-9: not a Redis pod");

    // A target that falls behind: stopped, while the master takes more writes.
    const target = t.pods.find((p) => p !== master)!;
    // This case is about a target that falls behind, so let Sentinel see it promotable first.
    await promotable(master.host, target.host);
    t.signal(target, "redis", "SIGSTOP");
    try {
      await writesTheTargetCannotHave(master.host);
      const result = await switchover(runner, target.name);
      expect(result.code, result.output).toBe(3);
      expect(result.output).toMatch(/refused: .* not in sync with offset \d+ after 1s/);
      // Nothing changed: same master, writes accepted at once (the pause was released), priorities back.
      expect(await roleOf(master.host, creds)).toMatchObject({ role: "master" });
      const started = Date.now();
      await withConnection(master.host, REDIS_PORT, creds.redisPassword, (c) => c.set("after-refusal", "x"), 500);
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      t.signal(target, "redis", "SIGCONT");
    }
    await waitForConvergence(hosts, cfg.masterName, creds, CONVERGE_MS);
    expect(await priorities(hosts)).toEqual(["100", "100", "100"]);
  });

  it("lets a lagging replica catch up before it pauses writes, so no Sentinel counts the master down", async () => {
    // Sentinel's hello PUBLISH waits out a WRITE pause and its PINGs queue behind it (switchover.sh):
    // a pause longer than down-after while a candidate catches up reads as a dead master. No
    // target: every online replica is a candidate and no priority is steered, so the switchover
    // reaches its pause while one of them is still stopped.
    const { t, runner, master } = await converged(15);
    const lagging = t.pods.find((p) => p !== master)!;
    await promotable(master.host, lagging.host);
    const sentinelLogs = () => t.pods.map((p) => t.log(p, "sentinel"));
    const before = sentinelLogs().map((log) => log.length);
    t.signal(lagging, "redis", "SIGSTOP");
    let resume: NodeJS.Timeout | undefined;
    try {
      await writesTheTargetCannotHave(master.host);
      resume = setTimeout(() => t.signal(lagging, "redis", "SIGCONT"), 5 * cfg.sentinelDownAfterMs);
      const result = await switchover(runner);
      expect(result.code, result.output).toBe(0);
      expect(result.output).toMatch(/handover complete: \S+ is master/);
    } finally {
      clearTimeout(resume);
      t.signal(lagging, "redis", "SIGCONT");
    }
    const downs = sentinelLogs().flatMap((log, i) => log.slice(before[i]).split("\n").filter((line) => line.includes(`+sdown master ${cfg.masterName} ${master.host} `)));
    expect(downs).toEqual([]);
  });
});

describe("switchover against a cluster", () => {
  it("finds the master pod and runs the script in it through kubectl exec, naming the target by its FQDN", async () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-kubectl-"));
    const calls = path.join(bin, "calls");
    // A kubectl that records its arguments: redis-1 is the master; the switchover succeeds.
    fs.writeFileSync(
      path.join(bin, "kubectl"),
      `#!/usr/bin/env bash\necho "$*" >> "${calls}"\nif [[ "$*" == *--check* ]]; then [[ "$*" == *" redis-1 "* ]] && echo master || echo slave; exit 0; fi\necho "handover complete"\n`,
      { mode: 0o755 },
    );
    const previous = process.env.PATH;
    process.env.PATH = `${bin}:${previous}`;
    try {
      const result = await switchover(kubectlPods(cfg), "redis-2");
      expect(result).toMatchObject({ from: "redis-1", to: "redis-2", code: 0 });
    } finally {
      process.env.PATH = previous;
    }
    const lines = fs.readFileSync(calls, "utf8").trim().split("\n");
    expect(lines.slice(0, 3).sort()).toEqual([0, 1, 2].map((i) => `exec -n redis-dr redis-${i} -c redis -- bash /scripts/switchover.sh --check`));
    expect(lines[3]).toBe("exec -n redis-dr redis-1 -c redis -- bash /scripts/switchover.sh redis-2.redis-headless.redis-dr.svc.cluster.local");
  });
});
