import { createKubeClusterSchema } from "@linode/validation";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { Credentials } from "../probe/connection";
import { ClusterTopology, TopologyApps } from "../local/cluster/topology";
import { waitFor } from "../probe/wait";
import { CONVERGE_MS } from "./helpers/redisTier";
import { TEST_API_TOKEN } from "./helpers/fastFailover";
import { suiteTopology } from "./helpers/clusterTopology";
import { apiOptionsFromEnv, configureLinodeApi, LinodeApiError } from "../ops/linodeApi";
import { nodeDrill, podOf } from "../ops/nodeDrill";
import { controlPlaneAclCheck, formatResult, preflight, publicTlsCheck } from "../ops/preflight";
import { clusterStatus, nodeBalancerStatus, redisStatus } from "../ops/status";
import { FakeLinodeApi, healthyState } from "./helpers/fakeLinodeApi";
import { stackConfig, stackConfigWithout } from "./helpers/stackConfig";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

let api: FakeLinodeApi;
let apiUrl: string;

beforeEach(async () => {
  api = new FakeLinodeApi(healthyState());
  apiUrl = await api.start();
  configureLinodeApi({ token: "test-token", apiUrl, backoffMs: 10, maxWaitMs: 3000 });
});

afterEach(async () => {
  expect(api.violations).toEqual([]);
  await api.stop();
});

const dev = (overrides: Record<string, string> = {}) => stackConfig("dev", overrides);
const failures = (results: Awaited<ReturnType<typeof preflight>>) => results.filter((r) => !r.ok).map(formatResult);

describe("preflight", () => {
  it("passes every check for the dev stack on a healthy account", async () => {
    const results = await preflight(dev(), "dev");
    expect(results.map((r) => r.check)).toEqual(["stackName", "payload", "region", "k8sVersion", "nodeType", "account", "controlPlaneAcl", "publicTls", "backupHistory"]);
    expect(failures(results)).toEqual([]);
  });

  it("warns loudly, without failing, whenever the public entry is plain HTTP", () => {
    const line = (cfg: ReturnType<typeof dev>) => formatResult(publicTlsCheck(cfg));
    expect(line(dev())).toMatch(/^WARN publicTls .*PLAIN HTTP \(environment dev\): bearer tokens and values cross the network in the clear to the whole internet/);
    expect(publicTlsCheck(dev()).ok).toBe(true);
    const tunnelled = stackConfigWithout("prod", ["redis-dr:publicTlsSecret"], { "redis-dr:allowPlainHttp": "true", "redis-dr:publicPort": "80", "redis-dr:publicIngressCidrs": '["100.64.0.0/10"]' });
    expect(line(tunnelled)).toMatch(/^WARN publicTls .*PLAIN HTTP \(allowPlainHttp is true\): .* to 100\.64\.0\.0\/10/);
    expect(line(stackConfig("prod"))).toMatch(/^ok   publicTls +HTTPS on port 443 with the kubernetes.io\/tls Secret redis-dr\/redis-dr-tls/);
  });

  it("warns on every run that the backup job's key can erase the bucket's history, and why no policy can stop it", async () => {
    const history = (await preflight(dev(), "dev")).find((r) => r.check === "backupHistory")!;
    expect(history.ok && history.warning).toBe(true);
    expect(formatResult(history)).toMatch(/^WARN backupHistory .*can delete object versions for good; deleted backups stay 7 days .*one canonical ID per account/);
  });

  it("names redis-dr:region when the region does not exist or lacks a product", async () => {
    expect(failures(await preflight(dev({ "redis-dr:region": "xx-nowhere" }), "dev"))).toEqual([
      'FAIL region     redis-dr:region: "xx-nowhere" is not a Linode region; set an id such as us-ord (list: GET /regions)',
    ]);
    expect(failures(await preflight(dev({ "redis-dr:region": "us-nofw" }), "dev"))).toEqual([
      "FAIL region     redis-dr:region: us-nofw does not offer Cloud Firewall; choose a region that offers Kubernetes, NodeBalancers, Block Storage, Cloud Firewall",
    ]);
  });

  it("names redis-dr:k8sVersion with the versions LKE offers", async () => {
    expect(failures(await preflight(dev({ "redis-dr:k8sVersion": "1.29" }), "dev"))).toEqual([
      "FAIL k8sVersion redis-dr:k8sVersion: LKE does not offer 1.29; set one of 1.34, 1.35",
    ]);
  });

  it("names redis-dr:nodeType when it does not exist or cannot hold a Redis pod", async () => {
    expect(failures(await preflight(dev({ "redis-dr:nodeType": "g6-standard-99" }), "dev"))[0]).toContain('redis-dr:nodeType: "g6-standard-99" is not a Linode type');
    const [tooSmall] = failures(await preflight(dev({ "redis-dr:nodeType": "g6-nanode-1", "redis-dr:redisMemory": "1Gi" }), "dev"));
    expect(tooSmall).toBe(
      "FAIL nodeType   redis-dr:nodeType: g6-nanode-1 has 1024 MB; a Redis pod needs 1184 MB of limits plus system overhead; choose a larger type or lower redis-dr:redisMemory",
    );
  });

  it("says which grants a restricted user lacks", async () => {
    api.state.profile.restricted = true;
    api.state.grants.global.add_lkes = false;
    api.state.grants.global.add_firewalls = false;
    expect(failures(await preflight(dev(), "dev"))).toEqual([
      "FAIL account    user sre is restricted and lacks the grants add_lkes, add_firewalls; an account admin can add them under Users > Permissions",
    ]);
  });

  it("rejects a stack name LKE would reject, by the same rule as Linode's own schema", async () => {
    // LKE cluster labels may not contain underscores; the stack name becomes part of the label.
    const [name] = failures(await preflight(dev(), "my_stack"));
    expect(name).toMatch(/^FAIL stackName  stack name "my_stack": must be 1-16 letters, digits and -/);
    await expect(createKubeClusterSchema.validate({ label: "redis-dr-my_stack", region: "us-ord", k8s_version: "1.35", node_pools: [{ type: "g6-standard-2", count: 3 }] })).rejects.toThrow(
      "Cluster labels cannot contain special characters, spaces, or underscores.",
    );
  });
});

describe("Linode API errors", () => {
  it("explains a rejected token, without retrying", async () => {
    configureLinodeApi({ token: "wrong-token", apiUrl, backoffMs: 10 });
    const error = await preflight(dev(), "dev").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LinodeApiError);
    expect((error as Error).message).toMatch(/^LINODE_TOKEN was rejected \(401\) \(Invalid Token\): it is expired, revoked or mistyped/);
    expect(api.requests).toHaveLength(1);
  });

  it("waits as long as Retry-After says on 429, then succeeds", async () => {
    api.queue("versions", { status: 429, headers: { "retry-after": "1" }, body: { errors: [{ reason: "Too many requests" }] } });
    const started = Date.now();
    const results = await preflight(dev(), "dev");
    expect(failures(results)).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(api.count("versions")).toBe(2);
  });

  it("retries 5xx with back-off and gives up with a clear message after the last attempt", async () => {
    api.queue("region", { status: 503 }, 2);
    expect(failures(await preflight(dev(), "dev"))).toEqual([]);
    expect(api.count("region")).toBe(3);

    api.queue("account", { status: 500, body: { errors: [{ reason: "Internal" }] } }, 4);
    const error = await preflight(dev(), "dev").catch((e: unknown) => e);
    expect((error as Error).message).toBe("Linode API failed on GET /v4beta/account (500) through every retry (Internal); see https://status.linode.com");
  });

  it("fails prod until its Kubernetes API ACL names real ranges, and never lets prod open it", async () => {
    // The prod stack file ships a documentation range as a placeholder.
    expect(failures(await preflight(stackConfig("prod"), "prod")).filter((f) => f.includes("controlPlaneAcl"))).toEqual([
      "FAIL controlPlaneAcl redis-dr:controlPlaneAllowedCidrs: 203.0.113.0/24 is a documentation range; list the deploy runners' and operators' egress ranges, or `pulumi up` will be locked out of the cluster it creates",
    ]);
    const fixed = stackConfig("prod", { "redis-dr:controlPlaneAllowedCidrs": '["100.64.10.0/28"]' });
    expect(controlPlaneAclCheck(fixed)).toMatchObject({ ok: true, message: "the Kubernetes API admits 100.64.10.0/28" });
    expect(controlPlaneAclCheck({ ...fixed, controlPlaneAllowedCidrs: ["0.0.0.0/0"] })).toMatchObject({ ok: false, key: "redis-dr:controlPlaneAllowedCidrs" });
    expect(controlPlaneAclCheck(dev())).toMatchObject({ ok: true, message: expect.stringContaining("acceptable for dev only") });
  });

  it("needs the account's LKE ACL capability always, and HA control planes when haControlPlane is on", async () => {
    api.state.account.capabilities = api.state.account.capabilities.filter((c) => c !== "LKE HA Control Planes");
    expect(failures(await preflight(dev(), "dev"))).toEqual([]);
    const prod = stackConfig("prod", { "redis-dr:controlPlaneAllowedCidrs": '["100.64.10.0/28"]' });
    const accountFailures = async (cfg: typeof prod, stack: string) => failures(await preflight(cfg, stack)).filter((f) => f.startsWith("FAIL account"));
    expect(await accountFailures(prod, "prod")).toEqual([
      "FAIL account    the account lacks LKE HA Control Planes; ask Linode support to enable them (or set redis-dr:haControlPlane false, dev only)",
    ]);
    api.state.account.capabilities = api.state.account.capabilities.filter((c) => !c.startsWith("LKE Network Access"));
    expect(await accountFailures(dev(), "dev")).toEqual([
      "FAIL account    the account lacks LKE Network Access Control List (IP ACL); ask Linode support to enable them",
    ]);
  });

  it("requires LINODE_TOKEN", () => {
    expect(() => apiOptionsFromEnv({})).toThrow(/^LINODE_TOKEN is not set: create a personal access token/);
    expect(apiOptionsFromEnv({ LINODE_TOKEN: " t ", LINODE_API_URL: "http://x/" })).toEqual({ token: "t", apiUrl: "http://x" });
  });
});

describe("status from the Linode API", () => {
  it("reports LKE nodes and NodeBalancer backends per node, UP and DOWN", async () => {
    const cluster = await clusterStatus("dev");
    expect(cluster.pools[0]!.nodes.map((n) => `${n.id}:${n.status}`)).toEqual(["7001-aaaa:ready", "7001-bbbb:ready", "7001-cccc:not_ready"]);
    const nb = await nodeBalancerStatus("dev");
    expect(nb.ports).toEqual([
      {
        port: 80,
        up: 2,
        down: 1,
        backends: [
          { label: "node-aaaa", address: "192.168.128.1:31080", status: "UP" },
          { label: "node-bbbb", address: "192.168.128.2:31080", status: "UP" },
          { label: "node-cccc", address: "192.168.128.3:31080", status: "DOWN" },
        ],
      },
    ]);
    // Looked up with an X-Filter, not by listing everything: the cluster by label, the NodeBalancer by the stack tag.
    expect(api.requests.filter((r) => r.filter).map((r) => r.filter)).toEqual([{ label: "redis-dr-dev" }, { tags: "redis-dr-dev" }]);
  });

  it("says when the stack has not been deployed", async () => {
    await expect(clusterStatus("prod")).rejects.toThrow("no LKE cluster labelled redis-dr-prod; has `pulumi up` run for this stack?");
  });
});

describe("podOf", () => {
  it("takes the pod from a master's DNS name", () => {
    expect(podOf("redis-1.redis-headless.redis-dr.svc.cluster.local")).toBe("redis-1");
    expect(() => podOf("10.0.0.1")).toThrow(/not a StatefulSet pod DNS name/);
  });
});

// Sentinel status and the node drill against the rendered pods on the local kubelet: the fake
// API's recycle loses the pod with its "node", and brings it back.
describe("Redis status and node drill on a local topology", () => {
  const overrides = { "redis-dr:sentinelDownAfterMs": "2000", "redis-dr:minReplicasMaxLagSeconds": "2", "redis-dr:sentinelFailoverTimeoutMs": "8000" };
  const cfg = dev(overrides);
  const creds: Credentials = { redisPassword: "redis-ops-test-password-01", sentinelPassword: "sentinel-ops-test-password-01" };
  let topology: ClusterTopology;
  let hosts: string[];
  let sentinels: string[];
  let apps: TopologyApps;

  beforeAll(async () => {
    ({ topology, hosts } = await suiteTopology(SUITE_BRIDGES.ops, { creds, overrides }));
    sentinels = hosts.map((h) => `${h}:26379`);
    await topology.start();
    await waitForConvergence(hosts, cfg.masterName, creds, CONVERGE_MS);
    apps = await topology.startApps([18598]);
  });

  afterAll(async () => {
    await apps?.stop();
    await topology?.shutdown();
  });

  it("finds the master, both replicas and their lag through the Sentinels", async () => {
    // Sentinel refreshes a replica's INFO every 10 s, so right after start-up it may still
    // report the link as it was during the initial sync ("err"); wait for its next look.
    const passwords = { sentinel: creds.sentinelPassword, redis: creds.redisPassword };
    const status = await waitFor(
      "the Sentinels to see both replica links up",
      async () => {
        const s = await redisStatus(sentinels, cfg.masterName, passwords);
        return s.replicas.length === 2 && s.replicas.every((r) => r.linkStatus === "ok") ? s : undefined;
      },
      25_000,
      500,
    );
    expect(status.agreeing).toBe(3);
    expect(hosts).toContain(status.master);
    expect(status.replicas.map((r) => r.address).sort()).toEqual(hosts.filter((a) => a !== status.master).sort());
    expect(status.masterOffset).toBeGreaterThan(0);
    for (const r of status.replicas) {
      expect(r.linkStatus).toBe("ok");
      expect(r.lagBytes).toBeLessThan(10_000);
    }
    // The node's own address on the pod network: reachable, and no Sentinel listens there.
    const absent = `${topology.hostAddress}:26379`;
    const partial = await redisStatus([...sentinels, absent], cfg.masterName, { sentinel: creds.sentinelPassword });
    expect(partial.agreeing).toBe(3);
    expect(partial.asked).toBe(4);
    expect(partial.sentinels.find((s) => s.sentinel === absent)!.error).toBeDefined();
  });

  it("recycles the node that hosts the master and measures recovery through the public URL", async () => {
    const nodeOfPod = (i: number) => api.state.linodes[501 + i]!.label;
    api.onRecycle = (_cluster, nodeId) => {
      const index = ["7001-aaaa", "7001-bbbb", "7001-cccc"].indexOf(nodeId);
      const pod = topology.pods[index]!;
      void topology.losePod(pod);
      setTimeout(() => void topology.recoverPod(pod), 2 * cfg.sentinelDownAfterMs);
    };
    const lines: string[] = [];
    const result = await nodeDrill({
      stack: "dev",
      masterName: cfg.masterName,
      sentinels,
      sentinelPassword: creds.sentinelPassword,
      url: apps.urls[0]!,
      apiToken: TEST_API_TOKEN,
      podNode: (address) => nodeOfPod(hosts.indexOf(address)),
      probeIntervalMs: 100,
      settleMs: 3000,
      timeoutMs: 60_000,
      progress: (line) => lines.push(line),
    });
    const masterIndex = hosts.indexOf(result.masterBefore);
    expect(api.recycled).toEqual([{ clusterId: 7001, nodeId: ["7001-aaaa", "7001-bbbb", "7001-cccc"][masterIndex] }]);
    expect(result.node).toBe(nodeOfPod(masterIndex));
    expect(result.masterAfter).toBeDefined();
    expect(result.masterAfter).not.toBe(result.masterBefore);
    // Sentinel needs down-after to notice; writes were out at least that long, and came back.
    expect(result.recoveryMs).toBeGreaterThan(cfg.sentinelDownAfterMs);
    expect(result.recoveryMs).toBeLessThan(30_000);
    expect(result.requests).toBeGreaterThan(result.failed);
    expect(lines[0]).toBe(`master ${result.masterBefore} runs on node ${result.node}`);
  });
});
