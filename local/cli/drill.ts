import * as fs from "fs";
import * as path from "path";
import { stackFileConfig } from "../../config/stackFile";
import { repeatTable, reportTable, timelineSvg } from "../drill/report";
import { abortActiveScenario, runScenario, ScenarioResult } from "../drill/runner";
import { SCENARIOS, scenariosNamed } from "../drill/scenarios";
import { maxReplicaLagSecondsFor } from "../../config/schema";
import { parseCommandLine } from "../../scripts/commandLine";
import { writeResults } from "../measure/results";
import { runDisaster } from "../drill/disaster";
import { DISASTERS, DisasterName, DisasterResult, disasterTable } from "../drill/disasterReport";
import { drillRuntime } from "../drill/runtime";
import { rerunRootlessUnlessRoot } from "../cluster/rootless";

const USAGE = `usage: npm run drill [-- options]

Failover scenarios against the local topology, each on a fresh one, with acknowledged writes
through the service (and ioredis / redis-py where set). The pods are the stack's rendered
manifests on the local kubelet, one network namespace per pod, with cluster DNS (without root,
in a user namespace of its own: scripts/rootless.sh). Prints a table, writes report.json and
an SVG timeline per scenario, and exits 1 if any scenario broke its expectations.

options:
  --stack NAME          stack file to read; default dev
  --scenarios A,B       scenarios to run (see --list); default all
  --down-after MS       Sentinel down-after-milliseconds (min-replicas-max-lag follows it)
  --set KEY=VALUE       override any stack config key (repeatable)
  --no-peers            skip the ioredis and redis-py writers
  --dns-delay MS        cluster DNS propagation delay after a readiness or address change; default 0
  --out DIR             report directory; default drill-reports/<time>
  --repeat N            run each scenario N times and add median and max per client
  --results FILE        also write the table, with how it was measured, to FILE (docs/results/drills.md,
                        or docs/results/disasters.md for the disasters: region-loss, bad-write,
                        bad-write-undo, archive-failover)
  --backup-every S      seconds between backups in the disaster scenarios; default 10
  --list                list the scenarios and exit
  -h, --help            this text`;

/**
 * `npm run drill`: failover scenarios against the local topology, each on a fresh
 * one, with acknowledged writes through the service (and peer clients where set).
 * Prints the table, writes report.json and one SVG timeline per scenario, and
 * exits 1 if any scenario broke its expectations.
 */
async function main(): Promise<void> {
  const { values } = parseCommandLine(USAGE, {
    stack: { type: "string", default: "dev" },
    scenarios: { type: "string" },
    "down-after": { type: "string" },
    set: { type: "string", multiple: true },
    "no-peers": { type: "boolean", default: false },
    "dns-delay": { type: "string", default: "0" },
    out: { type: "string", default: path.resolve("drill-reports", new Date().toISOString().replace(/[:.]/g, "-")) },
    list: { type: "boolean", default: false },
    results: { type: "string" },
    repeat: { type: "string", default: "1" },
    "backup-every": { type: "string", default: "10" },
  });
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) {
    console.error(`--repeat: "${values.repeat}" is not a whole number from 1 to 100\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.list) {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(20)} ${s.description}`);
    for (const [name, description] of Object.entries(DISASTERS)) console.log(`${name.padEnd(20)} ${description}`);
    return;
  }
  const backupEvery = Number(values["backup-every"]);
  if (!Number.isInteger(backupEvery) || backupEvery < 5 || backupEvery > 3600) {
    console.error(`--backup-every: "${values["backup-every"]}" is not a whole number of seconds from 5 to 3600\n\n${USAGE}`);
    process.exit(2);
  }
  const overrides: Record<string, string> = {};
  if (values["down-after"]) {
    overrides["redis-dr:sentinelDownAfterMs"] = values["down-after"];
    // The schema owns the rule that ties the lag bound to down-after; take the largest it allows.
    overrides["redis-dr:minReplicasMaxLagSeconds"] = String(maxReplicaLagSecondsFor(Number(values["down-after"])));
  }
  for (const assignment of values.set ?? []) {
    const match = /^(redis-dr:)?([A-Za-z]+)=(.*)$/.exec(assignment);
    if (!match) throw new Error(`--set "${assignment}": expected key=value, e.g. --set appWaitReplicas=2`);
    overrides[`redis-dr:${match[2]}`] = match[3]!;
  }
  const cfg = stackFileConfig(values.stack!, overrides);
  const requested = values.scenarios?.split(",");
  const disasters = (requested ?? []).filter((n): n is DisasterName => n in DISASTERS);
  const scenarios = requested && disasters.length === requested.length ? [] : scenariosNamed(requested?.filter((n) => !(n in DISASTERS)));
  const dnsDelay = Number(values["dns-delay"]);
  if (!Number.isInteger(dnsDelay) || dnsDelay < 0 || dnsDelay > 60_000) {
    console.error(`--dns-delay: "${values["dns-delay"]}" is not a whole number of milliseconds from 0 to 60000\n\n${USAGE}`);
    process.exit(2);
  }
  await rerunRootlessUnlessRoot();
  // Absolute: the pods' scripts and redis-server resolve paths from other working directories.
  const out = path.resolve(values.out!);
  fs.mkdirSync(out, { recursive: true });
  const runtime = await drillRuntime({
    stack: values.stack!,
    overrides,
    cfg,
    stateDir: path.join(out, "state"),
    dnsPropagationMs: dnsDelay,
  });
  console.log(
    `drill: stack ${values.stack}, down-after ${cfg.sentinelDownAfterMs} ms, min-replicas-max-lag ${cfg.minReplicasMaxLagSeconds} s, ${scenarios.length + disasters.length} scenario(s), ` +
      `pods: ${runtime.description}; report in ${out}`,
  );

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.log(`\n${signal}: stopping the running scenario and removing its network...`);
      void abortActiveScenario().finally(() => process.exit(130));
    });
  }
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios.flatMap((s) => Array.from({ length: repeat }, () => s))) {
    console.log(`\n== ${scenario.name}: ${scenario.description}`);
    const started = Date.now();
    const result = await runScenario(scenario, {
      cfg,
      baseDir: path.join(out, "state"),
      appPorts: [18580, 18581],
      withPeers: !values["no-peers"],
      creds: runtime.creds,
      apiToken: runtime.apiToken,
      topology: (dir) => runtime.topology(dir),
      log: (line) => console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s ${line.trim()}`),
    });
    results.push(result);
    const run = results.filter((r) => r.scenario === scenario.name).length;
    fs.writeFileSync(path.join(out, `${scenario.name}${repeat > 1 ? `-${run}` : ""}.svg`), timelineSvg(result));
    console.log(result.violations.length ? `   FAIL: ${result.violations.join("; ")}` : "   ok");
  }
  if (disasters.length > 0) {
    const recovered: DisasterResult[] = [];
    for (const name of disasters) {
      console.log(`\n== ${name}: ${DISASTERS[name]}`);
      const started = Date.now();
      const result = await runDisaster(name, {
        cfg,
        baseDir: path.join(out, "state"),
        creds: runtime.creds,
        apiToken: runtime.apiToken,
        topology: (dir) => runtime.topology(dir),
        appPorts: [18580, 18581],
        backupIntervalSeconds: backupEvery,
        backupsBefore: 2,
        storePort: 19520,
        log: (line) => console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s ${line.trim()}`),
      });
      recovered.push(result);
      fs.writeFileSync(path.join(out, `${name}.svg`), timelineSvg(result));
      console.log(result.violations.length ? `   FAIL: ${result.violations.join("; ")}` : "   ok");
    }
    const table = disasterTable(recovered);
    fs.writeFileSync(path.join(out, "disasters.json"), JSON.stringify(recovered.map(({ writers, ...r }) => ({ ...r, writers: writers.map(({ samples, ...w }) => w) })), null, 1));
    console.log(`\n${table}\n\ntimelines: ${out}/*.svg`);
    if (values.results && scenarios.length === 0) {
      const setup = `backups every ${backupEvery} s into the local S3-compatible store, down-after ${cfg.sentinelDownAfterMs} ms, pods: ${runtime.description}; RTO runs from the region loss to the first acknowledged write through the service (region-loss, archive-failover; the latter restores to a time 3 s after the failover, and counts as lost only writes acknowledged by then) or from the bad write to the end of the restore (bad-write), or from the bad write to the end of the undo, the time to find it in backup log included (bad-write-undo; "held" is how long the undo's script ran on the master, holding writes)`;
      writeResults(values.results, "Disaster recovery drill results", "drill", `${setup}.\n\n${table}\n`);
    }
    if (recovered.some((r) => r.violations.length > 0)) process.exitCode = 1;
    if (scenarios.length === 0) process.exit(process.exitCode ?? 0);
  }
  const table = repeat > 1 ? `${reportTable(results)}\n\nOver ${repeat} runs each:\n\n${repeatTable(results)}` : reportTable(results);
  fs.writeFileSync(path.join(out, "report.json"), JSON.stringify({ downAfterMs: cfg.sentinelDownAfterMs, results }, null, 1));
  fs.writeFileSync(path.join(out, "report.md"), `${table}\n`);
  console.log(`\n${table}\n\nreport: ${path.join(out, "report.json")}, timelines: ${out}/*.svg`);
  if (values.results) {
    const setup = `down-after ${cfg.sentinelDownAfterMs} ms, min-replicas-max-lag ${cfg.minReplicasMaxLagSeconds} s, pods: ${runtime.description}`;
    writeResults(values.results, "Failover drill results", "drill", `${setup}.\n\n${table}\n`);
  }
  if (results.some((r) => r.violations.length > 0)) process.exit(1);
}

main().catch((error) => {
  console.error(`drill failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
