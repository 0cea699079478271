import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PodBridge } from "../local/cluster/bridge";
import { LocalCluster } from "../local/cluster/localCluster";
import { clusterObjects, ClusterObjects, workloadNamed } from "../local/cluster/objects";
import { waitForConvergence } from "../local/measure/sentinelGroupWatch";
import { namespacesAvailable } from "../local/cluster/bridge";
import { resolveClusterNames } from "../local/cluster/harnessResolver";
import { majorityMaster } from "../probe/agreement";
import { sentinelMaster } from "../probe/roles";
import { waitFor } from "../probe/wait";
import { renderStack } from "./helpers/pulumiMocks";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

// The Redis StatefulSet as the program renders it, run by the local kubelet in one network
// namespace per pod, with cluster DNS: the pods find each other by their FQDNs only.
const SECRETS = {
  "redis-dr:redisPassword": "cluster-admin-password-0123456789",
  "redis-dr:sentinelPassword": "cluster-sentinel-password-0123456789",
};
const FAST = {
  "redis-dr:sentinelDownAfterMs": "2000",
  "redis-dr:minReplicasMaxLagSeconds": "2",
  "redis-dr:sentinelFailoverTimeoutMs": "8000",
  "redis-dr:redisTerminationGraceSeconds": "20",
};
const creds = { redisPassword: SECRETS["redis-dr:redisPassword"], sentinelPassword: SECRETS["redis-dr:sentinelPassword"] };
const namespaces = namespacesAvailable();

describe.skipIf(!namespaces)("the rendered Redis StatefulSet on the local kubelet, with cluster DNS", () => {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-cluster-"));
  let objects: ClusterObjects;
  let cluster: LocalCluster;
  let names: string[];
  let restoreResolver: () => void;
  const majority = async () => majorityMaster(await Promise.all(names.map((n) => sentinelMaster(n, "mymaster", creds))), names.length);

  beforeAll(async () => {
    objects = clusterObjects((await renderStack("dev", FAST, SECRETS)).resources);
    cluster = new LocalCluster({ objects, baseDir, bridge: new PodBridge(SUITE_BRIDGES.localCluster.prefix, SUITE_BRIDGES.localCluster.subnet), images: {} });
    cluster.setUp();
    restoreResolver = resolveClusterNames(cluster.dns);
    const redis = workloadNamed(objects, "StatefulSet", "redis");
    names = [0, 1, 2].map((i) => cluster.fqdn(redis, `redis-${i}`));
    await cluster.createAll(redis);
  });
  afterAll(async () => {
    restoreResolver?.();
    await cluster?.shutdown();
  });

  it("converges with every peer known by its DNS name, and every pod ready", async () => {
    const view = await waitForConvergence(names, "mymaster", creds, 90_000);
    expect(names).toContain(view.masters[0]);
    await waitFor("every pod ready", async () => cluster.podNames().every((p) => cluster.pod(p).ready), 30_000);
    const service = cluster.dns.serviceName("redis-sentinel", "redis-dr");
    expect(cluster.dns.resolve(service).sort()).toEqual(cluster.podNames().map((p) => cluster.ipOf(p)).sort());
    // Inside a pod, glibc resolves the peers through the namespace's own hosts file.
    const inPod = spawnSync("ip", ["netns", "exec", `${SUITE_BRIDGES.localCluster.prefix}-redis-0`, "getent", "hosts", names[2]!], { encoding: "utf8" });
    expect(inPod.stdout.split(/\s+/)[0]).toBe(cluster.ipOf("redis-2"));
    expect(fs.existsSync("/etc/netns/rdrt-redis-0/hosts")).toBe(true);
  });

  it("fails over when the master's node is lost, and the master rescheduled with a new address rejoins as a replica", async () => {
    const master = (await majority())!;
    const pod = master.split(".")[0]!;
    const oldIp = cluster.ipOf(pod);
    await cluster.losePod(pod);
    await waitFor("a new master", async () => {
      const now = await majority();
      return now !== undefined && now !== master;
    }, 30_000);
    await cluster.reschedule(pod);
    expect(cluster.ipOf(pod)).not.toBe(oldIp);
    const view = await waitForConvergence(names, "mymaster", creds, 90_000);
    expect(view.masters[0]).not.toBe(master);
    expect(view.roles[master]).toMatchObject({ role: "slave", master: view.masters[0], state: "connected" });
  });

  it("removes every namespace and hosts file on shutdown", async () => {
    await cluster.shutdown();
    expect(fs.existsSync("/etc/netns/rdrt-redis-0")).toBe(false);
    expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toMatch(/rdrt-/);
  });
});
