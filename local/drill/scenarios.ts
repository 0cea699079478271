import { StackConfig } from "../../config/schema";
import { majorityMaster } from "../../probe/agreement";
import { SENTINEL_PORT } from "../../k8s/redis/render";
import { Credentials, withConnection } from "../../probe/connection";
import { sentinelMaster } from "../../probe/roles";
import { waitFor } from "../../probe/wait";
import { waitForConvergence } from "../measure/sentinelGroupWatch";
import { TopologyPod, ClusterTopology } from "../cluster/topology";

export interface DrillContext {
  cfg: StackConfig;
  topology: ClusterTopology;
  creds: Credentials;
  /** Every Redis pod's stable name (FQDN in the cluster runtime). */
  hosts: string[];
  /** The pod that is master when the fault is injected. */
  master: TopologyPod;
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
  /** Whether Sentinel must (true) or must not (false) fail over while the fault lasts; "either" when both are correct. */
  expectFailover: boolean | "either";
  /** Planned: no acknowledged write may be lost and the target is 0 failed requests. */
  planned: boolean;
  /**
   * Unplanned, but no acknowledged write of the service may be lost (the fault is one the
   * service is built to survive intact, e.g. a raw SENTINEL FAILOVER it fences against).
   */
  lossless?: boolean;
  /** Also drive the peer clients (ioredis, redis-py). */
  peers: boolean;
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

/** How long two-pods-lost keeps both pods away (the "a minute"). */
const TWO_PODS_LOST_MS = 60_000;

async function waitForNewMaster(ctx: DrillContext, timeoutMs: number): Promise<void> {
  await waitFor(
    "a Sentinel majority to name a new master",
    async () => {
      const votes = await Promise.all(ctx.hosts.map((h) => sentinelMaster(h, ctx.cfg.masterName, ctx.creds)));
      const agreed = majorityMaster(votes, ctx.hosts.length);
      return agreed !== undefined && agreed !== ctx.master.host;
    },
    timeoutMs,
  );
}

/** The master's node is lost and its pod comes back on another node, with a new address; DNS may lag (FAULT) meanwhile. */
async function rescheduleMaster(ctx: DrillContext, fault?: "stale" | "nxdomain"): Promise<void> {
  const dns = ctx.topology.dns;
  const oldAddress = ctx.topology.addressOf(ctx.master);
  await ctx.topology.losePod(ctx.master);
  if (fault) {
    dns.fault(ctx.master.host, fault === "stale" ? { addresses: [oldAddress] } : "nxdomain");
    ctx.note(fault === "stale" ? `DNS: ${ctx.master.name} still resolves to ${oldAddress}` : `DNS: ${ctx.master.name} does not resolve`);
  }
  await waitForNewMaster(ctx, 10 * ctx.cfg.sentinelDownAfterMs);
  ctx.note("new master elected");
  await ctx.topology.reschedule(ctx.master);
  ctx.note(`${ctx.master.name} rescheduled at ${ctx.topology.addressOf(ctx.master)} (was ${oldAddress})`);
  if (fault) {
    await sleep(2 * ctx.cfg.sentinelDownAfterMs);
    dns.clearFault(ctx.master.host);
    ctx.note("DNS: record correct again");
  }
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
    description: "SIGKILL the master's redis; the kubelet restarts the container",
    expectFailover: true,
    planned: false,
    peers: true,
    async run(ctx) {
      await ctx.topology.crash(ctx.master, "redis");
      ctx.note("redis container killed; the kubelet restarts it");
    },
  },
  {
    name: "kill-master-pod",
    description: "SIGKILL every container of the master pod; the pod comes back after 2x down-after",
    expectFailover: true,
    planned: false,
    peers: false,
    async run(ctx) {
      await ctx.topology.losePod(ctx.master);
      await sleep(2 * ctx.cfg.sentinelDownAfterMs);
      ctx.note("pod restarted");
      await ctx.topology.recoverPod(ctx.master);
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
    secondMasterExpected: STALE_MASTER,
    async run(ctx) {
      ctx.topology.partition(ctx.master);
      await sleep(3 * ctx.cfg.sentinelDownAfterMs);
      ctx.note("link healed");
      ctx.topology.heal(ctx.master);
    },
  },
  {
    name: "restart-old-master",
    description: "SIGKILL the master pod, wait for the failover, restart the old master: it must rejoin as a replica",
    expectFailover: true,
    planned: false,
    peers: false,
    async run(ctx) {
      await ctx.topology.losePod(ctx.master);
      await waitForNewMaster(ctx, 10 * ctx.cfg.sentinelDownAfterMs);
      ctx.note("old master pod restarted");
      await ctx.topology.recoverPod(ctx.master);
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
        await ctx.topology.restartPod(pod);
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
      const reply = await withConnection(sentinel.host, SENTINEL_PORT, ctx.creds.sentinelPassword, (c) => c.call("SENTINEL", "FAILOVER", ctx.cfg.masterName));
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
      const result = await ctx.topology.exec(ctx.master, "switchover.sh", [target.host]);
      ctx.note(`switchover to ${target.name}: exit ${result.code}`);
      if (result.code !== 0) throw new Error(`switchover.sh exited ${result.code}: ${result.output}`);
      const agreed = majorityMaster(await Promise.all(ctx.hosts.map((h) => sentinelMaster(h, ctx.cfg.masterName, ctx.creds))), ctx.hosts.length);
      if (agreed !== target.host) throw new Error(`the Sentinels name ${String(agreed)}, not the target ${target.host}`);
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
      await ctx.topology.hold(lost!, "sentinel");
      await sleep(500);
      ctx.note("master redis killed");
      await ctx.topology.hold(ctx.master, "redis");
      await waitForNewMaster(ctx, 10 * ctx.cfg.sentinelDownAfterMs).catch(() => ctx.note("no failover"));
      await ctx.topology.release(ctx.master, "redis");
      await ctx.topology.release(lost!, "sentinel");
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
      for (const pod of replicas(ctx)) await ctx.topology.hold(pod, "sentinel");
      await sleep(500);
      ctx.note("master redis killed");
      await ctx.topology.hold(ctx.master, "redis");
      await sleep(3 * ctx.cfg.sentinelDownAfterMs);
      // Once the Sentinels are back, a failover is theirs to decide: the master was down for long.
      ctx.recovering("Sentinels and redis restarted");
      for (const pod of replicas(ctx)) await ctx.topology.release(pod, "sentinel");
      await ctx.topology.release(ctx.master, "redis");
    },
  },
  {
    name: "reschedule-master",
    description: "the master's node is lost; once a new master is elected its pod is recreated on another node, with a new IP: it must rejoin as a replica",
    expectFailover: true,
    planned: false,
    peers: false,
    run: (ctx) => rescheduleMaster(ctx),
  },
  {
    name: "dns-stale",
    description: "as reschedule-master, but the old master's name keeps resolving to its old address for 2x down-after after it is back",
    expectFailover: true,
    planned: false,
    peers: false,
    run: (ctx) => rescheduleMaster(ctx, "stale"),
  },
  {
    name: "dns-nxdomain",
    description: "as reschedule-master, but the old master's name does not resolve at all from its loss until 2x down-after after it is back",
    expectFailover: true,
    planned: false,
    peers: false,
    run: (ctx) => rescheduleMaster(ctx, "nxdomain"),
  },
  {
    name: "sentinel-service-during-failover",
    description: "the master's node is lost while the app reaches Sentinel only through the Service name, whose records follow readiness",
    expectFailover: true,
    planned: false,
    peers: false,
    async run(ctx) {
      const service = ctx.topology.sentinelService;
      const dns = ctx.topology.dns;
      let fewest = Infinity;
      const sampler = setInterval(() => (fewest = Math.min(fewest, dns.resolve(service).length)), 100);
      try {
        await ctx.topology.losePod(ctx.master);
        await waitForNewMaster(ctx, 10 * ctx.cfg.sentinelDownAfterMs);
      } finally {
        clearInterval(sampler);
      }
      ctx.note(`new master elected; ${service} resolved to at least ${fewest} Sentinel(s) throughout`);
      if (fewest === 0) throw new Error(`${service} resolved to nothing during the failover`);
      await sleep(2 * ctx.cfg.sentinelDownAfterMs);
      ctx.recovering("lost node back");
      await ctx.topology.recoverPod(ctx.master);
    },
  },
  {
    name: "restart-all",
    description: "every pod's node is lost at once (power loss), then the pods come back one by one in random order",
    expectFailover: "either",
    planned: false,
    peers: false,
    secondMasterExpected: "a pod that comes back before Sentinel has agreed may report master for a moment with no replica, so no write is accepted",
    async run(ctx) {
      await Promise.all(ctx.topology.pods.map((p) => ctx.topology.losePod(p)));
      await sleep(ctx.cfg.sentinelDownAfterMs);
      const order = [...ctx.topology.pods].sort(() => Math.random() - 0.5);
      ctx.recovering(`power back: ${order.map((p) => p.name).join(", ")}`);
      for (const pod of order) {
        await ctx.topology.recoverPod(pod);
        ctx.note(`${pod.name} back`);
        await sleep(500 + Math.random() * 1500);
      }
    },
  },
  {
    name: "stale-master-restart",
    description:
      "the master hangs (redis and sentinel SIGSTOPped), Sentinel fails over and writes go on for 4x down-after, then every node is lost and all pods come back at once: the hung pod's data must not win",
    expectFailover: true,
    planned: false,
    lossless: true,
    peers: false,
    async run(ctx) {
      for (const container of ["redis", "sentinel"] as const) ctx.topology.signal(ctx.master, container, "SIGSTOP");
      ctx.note(`${ctx.master.name} hung`);
      await waitForNewMaster(ctx, 10 * ctx.cfg.sentinelDownAfterMs);
      ctx.note("new master elected; writes go on");
      await sleep(4 * ctx.cfg.sentinelDownAfterMs);
      await Promise.all(ctx.topology.pods.map((p) => ctx.topology.losePod(p)));
      ctx.recovering("every node lost; all pods come back at once");
      await Promise.all(ctx.topology.pods.map((p) => ctx.topology.recoverPod(p)));
    },
  },
  {
    name: "two-pods-lost",
    description: "the master's node and a replica's are lost for a minute (no Sentinel majority is left), then both come back",
    expectFailover: "either",
    planned: false,
    peers: false,
    secondMasterExpected: STALE_MASTER,
    async run(ctx) {
      const lost = [ctx.master, replicas(ctx)[0]!];
      await Promise.all(lost.map((p) => ctx.topology.losePod(p)));
      ctx.note(`${lost.map((p) => p.name).join(" and ")} lost`);
      await sleep(TWO_PODS_LOST_MS);
      ctx.recovering("both back");
      for (const pod of lost) await ctx.topology.recoverPod(pod);
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
