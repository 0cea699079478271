import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { sentinelGroupView, isConverged, waitForConvergence, watchMasters } from "../measure/sentinelGroupWatch";
import { Credentials } from "../../probe/connection";
import { TopologyApps, ClusterTopology } from "../cluster/topology";
import { Scenario } from "./scenarios";
import { rto, ServiceWriter, WriteSample, Writer } from "../../probe/writes";
import { IoredisWriter, lostWrites, RedisPyWriter } from "./writers";
import { ARGV_SCAN_MS, argvViolations, topologySecrets, watchArgv } from "./argvWatch";

export interface WriterResult {
  writer: string;
  /** Fault -> first acknowledged write after the last failed one (0 when no write failed). */
  rtoMs: number;
  acknowledged: number;
  failed: number;
  lost: number;
  lostSeqs: number[];
  samples: WriteSample[];
}

export interface ScenarioResult {
  scenario: string;
  description: string;
  startedAt: number;
  faultAt: number;
  endedAt: number;
  /** When the scenario started undoing its fault, if it marked it. */
  recoveryAt?: number;
  masterBefore: string;
  masterAfter: string;
  failover: boolean;
  expectFailover: boolean | "either";
  twoMasterSamples: number;
  /** Samples in which two masters each had enough replicas to accept writes. */
  twoWritableMasterSamples: number;
  converged: boolean;
  writers: WriterResult[];
  events: Array<{ at: number; event: string }>;
  violations: string[];
}

export interface RunOptions {
  cfg: StackConfig;
  baseDir: string;
  appPorts: [number, number];
  withPeers: boolean;
  /** The run's credentials (the cluster runtime's pods were rendered with them). */
  creds: Credentials;
  apiToken: string;
  /** A fresh topology for one scenario, living in DIR. */
  topology: (dir: string) => ClusterTopology;
  log?: (line: string) => void;
}

const MASTERS_EVENT = "masters: ";

/** What a running scenario holds, so an interrupted drill can stop it. */
let active: { writers: Writer[]; apps: TopologyApps[]; topology: ClusterTopology } | undefined;

async function release(parts: NonNullable<typeof active>): Promise<void> {
  for (const w of parts.writers) await w.stop().catch(() => undefined);
  for (const a of parts.apps) await a.stop();
  await parts.topology.shutdown();
}

/** Stop the running scenario's processes and remove its network (on Ctrl-C). */
export async function abortActiveScenario(): Promise<void> {
  const parts = active;
  active = undefined;
  if (parts) await release(parts);
}

export async function runScenario(scenario: Scenario, opts: RunOptions): Promise<ScenarioResult> {
  const log = opts.log ?? (() => undefined);
  const dir = path.join(opts.baseDir, scenario.name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const { cfg, creds, apiToken } = opts;
  const topology = opts.topology(dir);
  const hosts = topology.pods.map((p) => p.host);
  const events: ScenarioResult["events"] = [];
  const note = (event: string) => {
    events.push({ at: Date.now(), event });
    log(`    ${event}`);
  };
  const apps: TopologyApps[] = [];
  const writers: Writer[] = [];
  active = { writers, apps, topology };
  let stopArgvWatch = () => [] as string[];
  try {
    await topology.start();
    const initial = await waitForConvergence(hosts, cfg.masterName, creds, 120_000);
    const masterBefore = initial.masters[0]!;
    const service = await topology.startApps(opts.appPorts);
    apps.push(service);
    writers.push(new ServiceWriter(service.urls, apiToken));
    if (opts.withPeers && scenario.peers) {
      const wrap = (command: string, args: string[]) => topology.clientCommand(command, args);
      writers.push(new IoredisWriter(hosts, cfg.masterName, creds), new RedisPyWriter(hosts, cfg.masterName, creds, wrap));
    }
    const startedAt = Date.now();
    stopArgvWatch = watchArgv(topologySecrets(creds, apiToken), ARGV_SCAN_MS);
    const stopWatching = watchMasters(hosts, cfg.masterName, creds, (masters) => note(`${MASTERS_EVENT}${masters.join(",") || "none"}`));
    for (const w of writers) w.start();
    await new Promise((r) => setTimeout(r, 2000));

    const faultAt = Date.now();
    note(`fault: ${scenario.name}`);
    const master = topology.pods.find((p) => p.host === masterBefore)!;
    let recoveryAt: number | undefined;
    const recovering = (event: string) => {
      recoveryAt = Date.now();
      note(event);
    };
    await scenario.run({ cfg, topology, creds, hosts, master, note, recovering });
    const final = await waitForConvergence(hosts, cfg.masterName, creds, 120_000).catch(() => undefined);
    note(final ? "converged" : "did not converge within 120 s");
    await new Promise((r) => setTimeout(r, 2000));
    for (const w of writers) await w.stop();
    const { twoMasters: twoMasterSamples, twoWritable: twoWritableMasterSamples } = await stopWatching();
    const endedAt = Date.now();

    const view = final ?? (await sentinelGroupView(hosts, cfg.masterName, creds));
    const masterAfter = view.masters[0] ?? "";
    const results: WriterResult[] = [];
    for (const w of writers) {
      const lostSeqs = masterAfter ? await lostWrites(w, masterAfter, creds) : [];
      results.push({
        writer: w.name,
        rtoMs: rto(w.samples, faultAt),
        acknowledged: w.samples.filter((s) => s.ok).length,
        failed: w.samples.filter((s) => !s.ok).length,
        lost: lostSeqs.length,
        lostSeqs,
        samples: w.samples,
      });
    }
    const failover = events.some(
      (e) =>
        e.at >= faultAt &&
        e.at < (recoveryAt ?? Infinity) &&
        e.event.startsWith(MASTERS_EVENT) &&
        e.event.slice(MASTERS_EVENT.length).split(",").some((m) => m !== "none" && m !== masterBefore),
    );
    const violations: string[] = [];
    if (scenario.expectFailover !== "either" && failover !== scenario.expectFailover) violations.push(scenario.expectFailover ? "no failover happened" : "a failover happened");
    if (twoWritableMasterSamples > 0 && !scenario.writableSecondMasterIsTheFault) violations.push(`${twoWritableMasterSamples} samples with two writable masters`);
    else if (twoMasterSamples > 0 && !scenario.secondMasterExpected) violations.push(`${twoMasterSamples} samples with two masters`);
    if (!final || !isConverged(view)) violations.push("topology did not converge");
    const ours = results[0]!;
    if ((scenario.planned || scenario.lossless) && ours.lost > 0) {
      violations.push(`${ours.lost} acknowledged writes lost in a ${scenario.planned ? "planned" : "lossless"} scenario`);
    }
    if (scenario.planned && ours.failed > 0) violations.push(`${ours.failed} failed requests in a planned scenario`);
    violations.push(...argvViolations(stopArgvWatch()));
    return {
      scenario: scenario.name,
      description: scenario.description,
      startedAt,
      faultAt,
      endedAt,
      ...(recoveryAt === undefined ? {} : { recoveryAt }),
      masterBefore,
      masterAfter,
      failover,
      expectFailover: scenario.expectFailover,
      twoMasterSamples,
      twoWritableMasterSamples,
      converged: Boolean(final),
      writers: results,
      events,
      violations,
    };
  } finally {
    stopArgvWatch();
    if (active?.topology === topology) active = undefined;
    await release({ writers, apps, topology });
  }
}
