import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupScript, backupIdFrom } from "../local/backup/job";
import { backupSettings } from "../k8s/backup/settings";
import { clusterPodRunner, readClusterState } from "../local/cluster/localState";
import { ClusterRun } from "../local/cluster/start";
import { localApiToken, localCredentials } from "../local/credentials";
import { namespacesAvailable } from "../local/cluster/bridge";
import { localObjectStore } from "../local/backup/objectStore";
import { switchover } from "../ops/switchover";
import { stackConfig } from "./helpers/stackConfig";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

// `npm start` on the cluster runtime: the dev stack's rendered pods on the local kubelet, the
// app behind the LoadBalancer stand-in, and the commands that act on a running topology.
const cfg = stackConfig("dev");

describe.skipIf(!namespacesAvailable())("npm start on the cluster runtime", () => {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-clusterrun-"));
  const creds = localCredentials(baseDir);
  const apiToken = localApiToken(baseDir);
  let run: ClusterRun;

  beforeAll(async () => {
    run = await ClusterRun.start({
      stack: "dev",
      cfg,
      baseDir,
      creds,
      apiToken,
      publicPort: 18680,
      site: SUITE_BRIDGES.clusterRun,
      makeStore: (host) => localObjectStore(baseDir, "dev", host, 19680),
      log: () => undefined,
    });
  }, 240_000);
  afterAll(async () => {
    await run?.stop();
  });

  it("runs every container of the rendered pods, the exporters included, and serves the API through the load balancer", async () => {
    expect(run.cluster.podNames().sort()).toEqual(["redis-0", "redis-1", "redis-2", "redis-dr-app-a", "redis-dr-app-b"]);
    expect(run.cluster.pod("redis-0").spec.containers.map((c) => c.name)).toEqual(["redis", "sentinel", "promotion-follower", "redis-exporter", "sentinel-exporter"]);
    const auth = { Authorization: `Bearer ${apiToken}` };
    expect((await fetch(`${run.loadBalancer.url}/kv/greeting`, { method: "PUT", body: "hello", headers: auth })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect(await (await fetch(`${run.loadBalancer.url}/kv/greeting`, { headers: auth })).text()).toContain("hello");
    const metrics = await fetch(`http://${run.cluster.ipOf("redis-0")}:9121/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^redis_up 1$/m);
  });

  it("lets ops switch the master over in the running pods, by their DNS names", async () => {
    const state = readClusterState(baseDir)!;
    const pods = clusterPodRunner(state);
    const target = (await Promise.all(pods.pods.map(async (p) => [p, (await pods.run(p, "switchover.sh", ["--check"])).output.trim().split("\n").at(-1)] as const))).find(([, role]) => role !== "master")![0];
    const result = await switchover(pods, target);
    expect(result.code).toBe(0);
    expect(result.to).toBe(target);
    expect(result.output).toMatch(/handover complete/);
  });

  it("runs the backup job in its own namespace against the pods' names", async () => {
    const job = { target: run.backupTarget, store: run.store.access, settings: backupSettings(cfg), scratchDir: path.join(baseDir, "scratch") };
    const taken = await runBackupScript(job, ["take"]);
    expect(taken.code, taken.output).toBe(0);
    const id = backupIdFrom(taken.output)!;
    expect((await runBackupScript(job, ["list"])).output).toContain(id);
  });
});
