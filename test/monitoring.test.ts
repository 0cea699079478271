import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppProcess, startApp } from "../local/process/appProcess";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { ExporterTarget, exporterSettings } from "../k8s/redis/exporters";
import { REDIS_PORT, SENTINEL_PORT } from "../k8s/redis/render";
import { Credentials } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { LoopbackNetwork } from "../local/process/network";
import { LocalTopology } from "../local/process/topology";
import { rolePassword } from "../local/credentials";
import { ALERT_RULES_FILE, alertRuleGroups } from "../k8s/monitoring";
import { CONVERGE_MS } from "./helpers/redisTier";
import { TEST_API_TOKEN } from "./helpers/fastFailover";
import { stackConfig } from "./helpers/stackConfig";
import { SUITE_LOOPBACK } from "./helpers/suiteNetworks";

const RULES_TEST_FILE = path.resolve(__dirname, "../monitoring/alerts.test.yml");

describe("alert rules", () => {
  it("pass promtool check rules", () => {
    const result = spawnSync("promtool", ["check", "rules", ALERT_RULES_FILE], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${alertRuleGroups().flatMap((g) => g.rules).length} rules found`);
    expect(result.status).toBe(0);
  });

  it("pass their promtool unit tests (each alert fires on its fault, none on a healthy topology)", () => {
    const result = spawnSync("promtool", ["test", "rules", RULES_TEST_FILE], { encoding: "utf8" });
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });
});

/** Metric name -> the label sets seen, from Prometheus text format. */
function parseMetrics(text: string): Map<string, string[]> {
  const metrics = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+\S+$/.exec(line);
    if (!match) continue;
    metrics.set(match[1]!, [...(metrics.get(match[1]!) ?? []), match[2] ?? ""]);
  }
  return metrics;
}

// The metric sources the rules are written against, run for real: Debian's
// prometheus-redis-exporter on the local topology's master and a Sentinel, and
// the C++ service's /metrics.
describe("metric names the alert rules use", () => {
  const cfg = stackConfig("dev", { "redis-dr:sentinelDownAfterMs": "2000", "redis-dr:minReplicasMaxLagSeconds": "2" });
  const creds: Credentials = { redisPassword: "redis-monitoring-test-0123", sentinelPassword: "sentinel-monitoring-test-0123" };
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-monitoring-test-"));
  const topology = new LocalTopology({ cfg, baseDir, network: new LoopbackNetwork(3, SUITE_LOOPBACK.monitoring), ...creds });
  const exporters: ChildProcess[] = [];
  let app: AppProcess | undefined;
  const scraped = new Map<string, string[]>();

  // As in the pod (k8s/redis/exporters.ts): both as the read-only `monitor` user, of Redis and of Sentinel.
  const startExporter = (target: ExporterTarget, address: string, port: number, listen: number) => {
    const child = spawn("prometheus-redis-exporter", [], {
      env: {
        ...exporterSettings(target),
        REDIS_ADDR: `redis://${address}:${port}`,
        REDIS_USER: "monitor",
        REDIS_PASSWORD: rolePassword(creds, "monitor"),
        REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${listen}`,
      },
      stdio: "ignore",
    });
    exporters.push(child);
    return `http://127.0.0.1:${listen}/metrics`;
  };

  beforeAll(async () => {
    topology.startAll();
    const view = await waitForConvergence(topology.pods.map((p) => p.address), cfg.masterName, creds, CONVERGE_MS);
    const master = view.masters[0]!;
    const sentinel = topology.pods[1]!.address;
    app = await startApp({ cfg, sentinels: topology.pods.map((p) => p.address), creds, apiToken: TEST_API_TOKEN, port: 18597, logFile: path.join(baseDir, "app.log") });
    const urls = [
      startExporter("redis", master, REDIS_PORT, 19121),
      startExporter("sentinel", sentinel, SENTINEL_PORT, 19122),
      `${app.probeUrl}/metrics`,
    ];
    // Put a little traffic through the app so its request counters exist.
    await fetch(`${app.url}/kv/monitoring`, { method: "PUT", body: "x", headers: { Authorization: `Bearer ${TEST_API_TOKEN}` } });
    for (const url of urls) {
      const text = await waitFor(`metrics at ${url}`, () => fetch(url).then((r) => (r.ok ? r.text() : undefined), () => undefined), 15_000);
      for (const [name, labels] of parseMetrics(text)) scraped.set(name, [...(scraped.get(name) ?? []), ...labels]);
    }
  });

  afterAll(async () => {
    for (const child of exporters) child.kill("SIGTERM");
    await app?.stop();
    await topology.shutdown();
  });

  it("finds every metric an alert rule names", () => {
    const used = new Set(alertRuleGroups().flatMap((g) => g.rules.flatMap((r) => r.expr.match(/\bredis(?:dr)?_[a-z_]+\b/g) ?? [])));
    expect(used.size).toBeGreaterThan(5);
    // The backup job's and the archive shipper's metrics come from a Pushgateway; test/backup.test.ts
    // and test/archive.test.ts prove those names.
    const missing = [...used].filter((name) => !/^redis_dr_(backup|archive)_/.test(name) && !scraped.has(name));
    expect(missing).toEqual([]);
  });

  it("carries the labels the rules select and group on", () => {
    expect(scraped.get("redis_instance_info")!.some((l) => l.includes('role="master"'))).toBe(true);
    const status = scraped.get("redis_sentinel_master_status")!;
    expect(status.some((l) => l.includes(`master_name="${cfg.masterName}"`) && /master_address="[^"]+"/.test(l))).toBe(true);
    expect(scraped.get("redis_connected_slaves")).toBeDefined();
    expect(scraped.get("redisdr_http_requests_total")!.some((l) => /status="\d{3}"/.test(l))).toBe(true);
  });
});
