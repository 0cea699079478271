import { StackConfig } from "../../config/schema";
import { majorityMaster } from "../../probe/agreement";
import { SENTINEL_PORT } from "../../k8s/redis/render";
import { Credentials, withConnection } from "../../probe/connection";
import { sentinelMaster } from "../../probe/roles";
import { waitFor } from "../../probe/wait";
import { waitForConvergence } from "../clusterWatch";
import { LocalPod, LocalTopology } from "../topology";

export interface DrillContext {
  cfg: StackConfig;
  topology: LocalTopology;
  creds: Credentials;
  hosts: string[];
  /** The pod that is master when the fault is injected. */
  master: LocalPod;
  note(event: string): void;
  /**
   * Marks the end of the fault: whether a failover happened is judged between the
   * fault and this mark (or the end, if a scenario never marks it).
   */
  recovering(event: string): void;
}

export interface Scenario {
  name: string;
  description: string;
  /** Whether Sentinel must (true) or must not (false) fail over while the fault lasts. */
  expectFailover: boolean;
  /** Planned: no acknowledged write may be lost and the target is 0 failed requests. */
  planned: boolean;
  /**
   * Unplanned, but no acknowledged write of the service may be lost (the fault is one the
   * service is built to survive intact, e.g. a raw SENTINEL FAILOVER it fences against).
   */
  lossless?: boolean;
  /** Also drive the peer clients (ioredis, redis-py). */
  peers: boolean;
  /** Needs one network namespace per pod (a link to cut). */
  needsNamespaces?: boolean;
  /**
   * Why a second master that cannot take writes is expected for a while. Two masters
   * that could both take writes always fail a scenario.
   */
  secondMasterExpected?: string;
  /**
   * Set when two writable masters are the fault itself (a raw SENTINEL FAILOVER leaves the old
   * master writable until Sentinel reconfigures it): the scenario then judges whether the
   * service kept its writes off the old master (0 lost), not whether the window existed.
   */
  writableSecondMasterIsTheFault?: string;
  /** Inject the fault and any recovery a kubelet would do; the runner then waits for convergence. */
  run(ctx: DrillContext): Promise<void>;
}

const STALE_MASTER =
  "a hung or cut-off master still calls itself master when it is back, until Sentinel demotes it (~10 s, its INFO period); " +
  "with no replicas left, min-replicas-to-write stops its writes";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const replicas = (ctx: DrillContext) => ctx.topology.pods.filter((p) => p !== ctx.master);
/** The kubelet restarts a crashed container after a short back-off. */
const KUBELET_RESTART_MS = 1000;

async function waitForNewMaster(ctx: DrillContext, timeoutMs: number): Promise<void> {
  await waitFor(
    "a Sentinel majority to name a new master",
    async () => {
      const votes = await Promise.all(ctx.hosts.map((h) => sentinelMaster(h, ctx.cfg.masterName, ctx.creds)));
      const agreed = majorityMaster(votes, ctx.hosts.length);
      return agreed !== undefined && agreed !== ctx.master.address;
    },
    timeoutMs,
  );
}

export const SCENARIOS: Scenario[] = [
  {
    name: "baseline",
    description: "no fault: steady writes for a few seconds",
    expectFailover: false,
    planned: true,
    peers: false,
    async run() {
      await sleep(5000);
    },
  },
  {
    name: "kill-master-redis",
    description: "SIGKILL the master's redis; the kubelet restarts the container a second later",
    expectFailover: true,
    planned: false,
    peers: true,
    async run(ctx) {
      ctx.topology.signal(ctx.master, "redis", "SIGKILL");
      await sleep(KUBELET_RESTART_MS);
      ctx.note("redis container restarted");
      ctx.topology.start(ctx.master, "redis");
    },
  },
  {
    name: "kill-master-pod",
    description: "SIGKILL every container of the master pod; the pod comes back after 2x down-after",
    expectFailover: true,
    planned: false,
    peers: false,
    async run(ctx) {
      ctx.topology.killPod(ctx.master);
      await sleep(2 * ctx.cfg.sentinelDownAfterMs);
      ctx.note("pod restarted");
      ctx.topology.startPod(ctx.master);
    },
  },
  {
    name: "hang-master",
    description: "SIGSTOP the master's redis for 2x down-after, then SIGCONT (a stalled process, not a dead one)",
    expectFailover: true,
    planned: false,
    peers: false,
    secondMasterExpected: STALE_MASTER,
    async run(ctx) {
      ctx.topology.signal(ctx.master, "redis", "SIGSTOP");
      await sleep(2 * ctx.cfg.sentinelDownAfterMs);
      ctx.note("SIGCONT");
      ctx.topology.signal(ctx.master, "redis", "SIGCONT");
    },
  },
  {
    name: "partition-master",
    description: "cut the master pod's network link for 3x down-after, then heal: it must rejoin as a replica",
    expectFailover: true,
    planned: false,
    peers: false,
    needsNamespaces: true,
    secondMasterExpected: STALE_MASTER,
    async run(ctx) {
      const index = ctx.topology.pods.indexOf(ctx.master);
      ctx.topology.network.partition(index);
      await sleep(3 * ctx.cfg.sentinelDownAfterMs);
      ctx.note("link healed");
      ctx.topology.network.heal(index);
    },
  },
  {
    name: "restart-old-master",
    description: "SIGKILL the master pod, wait for the failover, restart the old master: it must rejoin as a replica",
    expectFailover: true,
    planned: false,
    peers: false,
    async run(ctx) {
      ctx.topology.killPod(ctx.master);
      await waitForNewMaster(ctx, 10 * ctx.cfg.sentinelDownAfterMs);
      ctx.note("old master pod restarted");
      ctx.topology.startPod(ctx.master);
    },
  },
  {
    name: "rolling-restart",
    description: "restart every pod, highest ordinal first, each with the preStop handover (planned maintenance)",
    expectFailover: true,
    planned: true,
    peers: true,
    secondMasterExpected:
      "between the promotion and the old master's REPLICAOF in preStop (~100 ms) both report master; the old one has writes paused",
    async run(ctx) {
      for (const pod of [...ctx.topology.pods].reverse()) {
        ctx.note(`${pod.name} preStop`);
        await Promise.all([ctx.topology.runScript(pod, "prestop-redis.sh"), ctx.topology.runScript(pod, "prestop-sentinel.sh")]);
        await ctx.topology.stopPod(pod);
        ctx.topology.startPod(pod);
        await waitForConvergence(ctx.hosts, ctx.cfg.masterName, ctx.creds, 120_000);
        ctx.note(`${pod.name} back`);
      }
    },
  },
  {
    name: "manual-failover",
    description: "SENTINEL FAILOVER sent to one Sentinel (what an operator types): the service must fence the old master and lose nothing",
    expectFailover: true,
    // Not planned: nothing pauses writes, and the promoted replica refuses them (NOREPLICAS)
    // until Sentinel reconfigures a replica to follow it, so requests may fail; none may be lost.
    planned: false,
    lossless: true,
    peers: true,
    secondMasterExpected: "Sentinel promotes the replica before it reconfigures the old master",
    writableSecondMasterIsTheFault:
      "the old master keeps a replica, so min-replicas-to-write lets it take writes until Sentinel reconfigures it: the service must fence it, peers may not",
    async run(ctx) {
      const sentinel = replicas(ctx)[0]!;
      const reply = await withConnection(sentinel.address, SENTINEL_PORT, ctx.creds.sentinelPassword, (c) => c.call("SENTINEL", "FAILOVER", ctx.cfg.masterName));
      if (reply !== "OK") throw new Error(`SENTINEL FAILOVER answered ${String(reply)}`);
      ctx.note(`SENTINEL FAILOVER via ${sentinel.name}`);
      await waitForNewMaster(ctx, 30_000);
    },
  },
  {
    name: "switchover",
    description: "the switchover command (pause, sync, fail over to a chosen replica, demote, release) moves the master to the highest ordinal replica",
    expectFailover: true,
    planned: true,
    peers: true,
    secondMasterExpected: "between the promotion and the old master's REPLICAOF (~50 ms) both report master; the old one has writes paused",
    async run(ctx) {
      const target = replicas(ctx).at(-1)!;
      const result = await ctx.topology.runScript(ctx.master, "switchover.sh", [target.address]);
      ctx.note(`switchover to ${target.name}: exit ${result.code}`);
      if (result.code !== 0) throw new Error(`switchover.sh exited ${result.code}: ${result.output}`);
      const agreed = majorityMaster(await Promise.all(ctx.hosts.map((h) => sentinelMaster(h, ctx.cfg.masterName, ctx.creds))), ctx.hosts.length);
      if (agreed !== target.address) throw new Error(`the Sentinels name ${String(agreed)}, not the target ${target.address}`);
    },
  },
  {
    name: "lose-one-sentinel",
    description: "stop one replica pod's Sentinel, then SIGKILL the master's redis: two Sentinels still fail over",
    expectFailover: true,
    planned: false,
    peers: false,
    async run(ctx) {
      const [lost] = replicas(ctx);
      ctx.topology.signal(lost!, "sentinel", "SIGKILL");
      await sleep(500);
      ctx.note("master redis killed");
      ctx.topology.signal(ctx.master, "redis", "SIGKILL");
      await waitForNewMaster(ctx, 10 * ctx.cfg.sentinelDownAfterMs).catch(() => ctx.note("no failover"));
      ctx.topology.start(ctx.master, "redis");
      ctx.topology.start(lost!, "sentinel");
      ctx.note("Sentinel and redis restarted");
    },
  },
  {
    name: "lose-two-sentinels",
    description: "stop two Sentinels, then SIGKILL the master's redis: one Sentinel has no quorum, so no failover may happen",
    expectFailover: false,
    planned: false,
    peers: false,
    async run(ctx) {
      for (const pod of replicas(ctx)) ctx.topology.signal(pod, "sentinel", "SIGKILL");
      await sleep(500);
      ctx.note("master redis killed");
      ctx.topology.signal(ctx.master, "redis", "SIGKILL");
      await sleep(3 * ctx.cfg.sentinelDownAfterMs);
      // Once the Sentinels are back, a failover is theirs to decide: the master was down for long.
      ctx.recovering("Sentinels and redis restarted");
      for (const pod of replicas(ctx)) ctx.topology.start(pod, "sentinel");
      ctx.topology.start(ctx.master, "redis");
    },
  },
];

export function scenariosNamed(names: string[] | undefined): Scenario[] {
  if (!names) return SCENARIOS;
  return names.map((name) => {
    const scenario = SCENARIOS.find((s) => s.name === name);
    if (!scenario) throw new Error(`unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(", ")}`);
    return scenario;
  });
}
