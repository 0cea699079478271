import { execFile, execFileSync } from "child_process";
import { promisify } from "util";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stackFileConfig } from "../../config/stackFile";
import { REDIS_PORT } from "../../k8s/redis/render";
import { waitFor } from "../../probe/wait";
import { ADMIN_USER } from "../../probe/connection";
import { sentinelGroupView, waitForConvergence } from "../measure/sentinelGroupWatch";
import { localApiToken, localCredentials } from "../credentials";
import { ClusterTopology } from "../cluster/topology";
import { PodBridge } from "../cluster/bridge";
import { localSecretConfig, renderClusterObjects } from "../cluster/render";
import { rerunRootlessUnlessRoot } from "../cluster/rootless";
import { LOCAL_SITES } from "../cluster/sites";
import { parseCommandLine } from "../../scripts/commandLine";
import { writeResults } from "../measure/results";
import { hostileTable, runHostileClients } from "../measure/hostileClients";
import { measureArchiveOverhead, overheadTable } from "../measure/archiveOverhead";

/**
 * `npm run bench`: the service's PUT /kv throughput and latency next to
 * redis-benchmark SET against the same master in the same run, what hostile
 * clients can do to it, then the time from SIGKILL of the master to the first
 * successful write through the service.
 */
const USAGE = `usage: npm run bench [-- options]

The service's PUT /kv throughput and latency next to redis-benchmark SET on the same master in
the same run, and again with and without the continuous archive following a replica, in
alternating runs (its cost on PUT); each hostile-client probe (oversized and slow requests, many connections, no
credentials, garbage) with what the client got, the process's peak RSS and the slowest liveness
answer meanwhile; then the time from SIGKILL of the master to the first write through the service.

options:
  --stack NAME          stack file to read; default dev
  --concurrency A,B     client concurrency levels; default 1,8,32
  --seconds N           seconds per level; default 8
  --archive-trials N    runs with and without the archive per level, alternating; default 5
  --json FILE           also write the results as JSON
  --results FILE        also write the tables, with how they were measured, to FILE (docs/results/bench.md)
  -h, --help            this text`;

/** One concurrency level: the service and redis-benchmark side by side. */
interface Row {
  concurrency: number;
  appRps: number;
  appP50: number;
  appP99: number;
  appErrors: number;
  redisRps: number;
  redisP50: number;
  redisP99: number;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!m) throw new Error(`cannot read wrk latency "${value}"`);
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

/** Asynchronous: with the archive on, its object store serves from this process meanwhile. */
async function runWrk(url: string, apiToken: string, concurrency: number, seconds: number) {
  const script = path.resolve(__dirname, "../../app/bench/put.lua");
  const { stdout: out } = await promisify(execFile)(
    "wrk",
    ["-t", String(Math.min(2, concurrency)), "-c", String(concurrency), "-d", `${seconds}s`, "--latency", "-s", script, url],
    { encoding: "utf8", env: { PATH: process.env.PATH, API_TOKEN: apiToken } },
  );
  const percentile = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out)![1]!);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]),
    p50: percentile("50"),
    p99: percentile("99"),
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: .*?timeout (\d+)/.exec(out)?.[1] ?? 0),
  };
}

function runRedisBenchmark(host: string, password: string, concurrency: number, requests: number) {
  const out = execFileSync(
    "redis-benchmark",
    ["-h", host, "-p", String(REDIS_PORT), "--user", ADMIN_USER, "-a", password, "-t", "set", "-c", String(concurrency), "-n", String(requests), "-d", "100", "-r", "1000", "--csv"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  const [header, row] = out.trim().split("\n").slice(-2).map((l) => l.split(",").map((c) => c.replace(/"/g, "")));
  const col = (name: string) => Number(row![header!.indexOf(name)]);
  return { rps: col("rps"), p50: col("p50_latency_ms"), p99: col("p99_latency_ms") };
}

async function measureKillRecovery(topology: ClusterTopology, url: string, apiToken: string, master: string) {
  let seq = 0;
  const put = () =>
    fetch(`${url}/kv/recovery-${++seq}`, { method: "PUT", body: "x", headers: { Authorization: `Bearer ${apiToken}` }, signal: AbortSignal.timeout(5000) }).then(
      (r) => r.ok,
      () => false,
    );
  await waitFor("a successful write before the fault", put, 10_000, 50);
  const pod = topology.pods.find((p) => p.host === master)!;
  const killedAt = Date.now();
  // Killed and kept down (a master that does not come back), as the figure has always been taken.
  await topology.hold(pod, "redis");
  let failed = 0;
  await waitFor(
    "the first successful write after SIGKILL",
    async () => {
      const ok = await put();
      if (!ok) failed++;
      return ok;
    },
    120_000,
    20,
  );
  return { ms: Date.now() - killedAt, failed };
}

async function main(): Promise<void> {
  const { values } = parseCommandLine(USAGE, {
    stack: { type: "string", default: "dev" },
    concurrency: { type: "string", default: "1,8,32" },
    seconds: { type: "string", default: "8" },
    "archive-trials": { type: "string", default: "5" },
    json: { type: "string" },
    results: { type: "string" },
  });
  const cfg = stackFileConfig(values.stack!);
  const levels = values.concurrency!.split(",").map(Number);
  const seconds = Number(values.seconds);
  const trials = Number(values["archive-trials"]);
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`--archive-trials must be a whole number of at least 1, not "${values["archive-trials"]}"`);
  await rerunRootlessUnlessRoot();
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-bench-"));
  const creds = localCredentials(baseDir);
  const apiToken = localApiToken(baseDir);
  console.log(`bench: stack ${values.stack}, ${os.cpus().length} cores, state in ${baseDir}`);
  const objects = await renderClusterObjects(values.stack!, {}, localSecretConfig(creds, apiToken));
  // The stack's rendered pods on the local kubelet; the service measured at one app pod's own address, as a client in the cluster reaches it.
  const topology = new ClusterTopology(cfg, objects, baseDir, new PodBridge(LOCAL_SITES.bench.prefix, LOCAL_SITES.bench.subnet));
  const hosts = topology.pods.map((p) => p.host);
  try {
    await topology.start();
    const view = await waitForConvergence(hosts, cfg.masterName, creds, 120_000);
    const master = view.masters[0]!;
    await topology.startApps([]);
    const app = topology.appInstances()[0]!;
    await waitFor("the service to be ready", () => fetch(`${app.probeUrl}/readyz`).then((r) => r.ok, () => false), 30_000);
    const rows: Row[] = [];
    for (const concurrency of levels) {
      process.stdout.write(`  concurrency ${concurrency}: service...`);
      const service = await runWrk(app.url, apiToken, concurrency, seconds);
      process.stdout.write(" redis-benchmark...");
      const redis = runRedisBenchmark(topology.addressOf(topology.pods.find((p) => p.host === master)!), creds.redisPassword, concurrency, Math.max(20_000, Math.round(service.rps * seconds)));
      console.log(" done");
      rows.push({ concurrency, appRps: service.rps, appP50: service.p50, appP99: service.p99, appErrors: service.errors, redisRps: redis.rps, redisP50: redis.p50, redisP99: redis.p99 });
    }
    const throughput = [
      "PUT /kv/{key} through the service vs redis-benchmark SET on the same master (100-byte values, 1000 keys)",
      "",
      "| concurrency | service req/s | p50 ms | p99 ms | errors | redis SET req/s | p50 ms | p99 ms | service/redis |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows.map(
        (r) =>
          `| ${r.concurrency} | ${r.appRps.toFixed(0)} | ${r.appP50.toFixed(2)} | ${r.appP99.toFixed(2)} | ${r.appErrors} | ${r.redisRps.toFixed(0)} | ${r.redisP50.toFixed(2)} | ${r.redisP99.toFixed(2)} | ${(r.appRps / r.redisRps).toFixed(2)} |`,
      ),
    ].join("\n");
    console.log(`\n${throughput}`);
    const overhead = await measureArchiveOverhead({ topology, baseDir, cfg, levels, trials, put: (concurrency) => runWrk(app.url, apiToken, concurrency, seconds) });
    const archive = overheadTable(cfg, overhead);
    console.log(`\n${archive}`);
    process.stdout.write("\n  hostile clients...");
    const hostile = `Hostile clients against one instance (MAX_VALUE_BYTES ${1024 * 1024}; liveness: GET /healthz on the probe listener every 100 ms, 2 s timeout)\n\n${hostileTable(await runHostileClients(app, apiToken))}`;
    console.log(` done\n\n${hostile}`);
    const recovery = await measureKillRecovery(topology, app.url, apiToken, master);
    const after = await sentinelGroupView(hosts, cfg.masterName, creds);
    const failover = `SIGKILL of the master (${master}) -> first successful write through the service: ${recovery.ms} ms, ${recovery.failed} failed requests (down-after ${cfg.sentinelDownAfterMs} ms; new master ${after.masters.join(",")})`;
    console.log(`\n${failover}`);
    if (values.results) writeResults(values.results, "Service benchmark results", "bench", `${throughput}\n\n${archive}\n\n${hostile}\n\n${failover}.\n`);
    if (values.json) fs.writeFileSync(values.json, JSON.stringify({ stack: values.stack, rows, archive: overhead, recovery, downAfterMs: cfg.sentinelDownAfterMs }, null, 2));
  } finally {
    await topology.shutdown();
  }
}

main().catch((error) => {
  console.error(`bench failed: ${(error as Error).message}`);
  process.exit(1);
});
