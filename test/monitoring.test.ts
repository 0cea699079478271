import { spawnSync } from "child_process";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { EXPORTER_PORTS } from "../k8s/redis/exporters";
import { REDIS_SCRIPT_CONTAINERS } from "../k8s/redis/render";
import { Credentials } from "../probe/connection";
import { waitFor } from "../probe/wait";
import { ALERT_RULES_FILE, alertRuleGroups } from "../k8s/monitoring";
import { CONVERGE_MS } from "./helpers/redisTier";
import { TEST_API_TOKEN } from "./helpers/fastFailover";
import { suiteTopology, SuiteTopology } from "./helpers/clusterTopology";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";
import { TopologyApps } from "../local/cluster/topology";

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

// The metric sources the rules are written against, run for real: the rendered pods on the
// local kubelet with their exporter containers (Debian's prometheus-redis-exporter, as the
// read-only `monitor` user, of Redis and of Sentinel), and the C++ service's /metrics.
describe("metric names the alert rules use", () => {
  const creds: Credentials = { redisPassword: "redis-monitoring-test-0123", sentinelPassword: "sentinel-monitoring-test-0123" };
  let suite: SuiteTopology;
  let apps: TopologyApps | undefined;
  const scraped = new Map<string, string[]>();

  beforeAll(async () => {
    suite = await suiteTopology(SUITE_BRIDGES.monitoring, {
      creds,
      overrides: { "redis-dr:sentinelDownAfterMs": "2000", "redis-dr:minReplicasMaxLagSeconds": "2" },
      containers: [...Object.values(REDIS_SCRIPT_CONTAINERS), "redis-exporter", "sentinel-exporter"],
    });
    const { topology } = suite;
    await topology.start();
    const view = await waitForConvergence(suite.hosts, suite.cfg.masterName, creds, CONVERGE_MS);
    const master = topology.pods.find((p) => p.host === view.masters[0])!;
    apps = await topology.startApps([18597]);
    const urls = [
      `http://${topology.addressOf(master)}:${EXPORTER_PORTS.redis}/metrics`,
      `http://${topology.addressOf(topology.pods[1]!)}:${EXPORTER_PORTS.sentinel}/metrics`,
      `${topology.appInstances()[0]!.probeUrl}/metrics`,
    ];
    // Put a little traffic through the app so its request counters exist.
    await fetch(`${apps.urls[0]}/kv/monitoring`, { method: "PUT", body: "x", headers: { Authorization: `Bearer ${TEST_API_TOKEN}` } });
    for (const url of urls) {
      const text = await waitFor(`metrics at ${url}`, () => fetch(url).then((r) => (r.ok ? r.text() : undefined), () => undefined), 15_000);
      for (const [name, labels] of parseMetrics(text)) scraped.set(name, [...(scraped.get(name) ?? []), ...labels]);
    }
  });

  afterAll(async () => {
    await apps?.stop();
    await suite?.topology.shutdown();
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
    expect(status.some((l) => l.includes(`master_name="${suite.cfg.masterName}"`) && /master_address="[^"]+"/.test(l))).toBe(true);
    expect(scraped.get("redis_connected_slaves")).toBeDefined();
    expect(scraped.get("redisdr_http_requests_total")!.some((l) => /status="\d{3}"/.test(l))).toBe(true);
  });
});
