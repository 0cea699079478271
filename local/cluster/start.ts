import { APP_COMPONENT } from "../../k8s/appTier";
import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { Credentials } from "../../probe/connection";
import { waitFor } from "../../probe/wait";
import { localImages } from "./images";
import { appPort } from "./topology";
import { BackupTarget } from "../backup/job";
import { SeedChoice } from "../../k8s/redis/podEnvironment";
import { PodBridge } from "./bridge";
import { resolveClusterNames } from "./harnessResolver";
import { KubeletEvent, KubeletPod } from "./kubelet";
import { LocalCluster } from "./localCluster";
import { clusterBackupTarget, LocalClusterState, removeClusterState, writeClusterState } from "./localState";
import { LocalLoadBalancer } from "./loadBalancer";
import { workloadNamed } from "./objects";
import { localSecretConfig, renderClusterObjects } from "./render";
import { waitForConvergenceShowingRoles } from "../measure/sentinelGroupWatch";
import { LOCAL_SITES, PodNetworkSite } from "./sites";
import { LocalObjectStore } from "../backup/objectStore";
import { seedBeforeStart } from "./seed";

export interface ClusterStartOptions {
  stack: string;
  cfg: StackConfig;
  baseDir: string;
  creds: Credentials;
  apiToken: string;
  /** Where the LoadBalancer Service's stand-in listens (127.0.0.1). */
  publicPort: number;
  /** The pod network's link prefix and /24 (npm start's own unless given: tests use another). */
  site?: PodNetworkSite;
  /** Seed the empty pods from this backup first (the restore init container's work). */
  restore?: SeedChoice;
  makeStore(hostAddress: string): LocalObjectStore;
  log(line: string): void;
}

/**
 * `npm start` on the cluster runtime: the stack's program rendered with the local credentials,
 * its Redis StatefulSet and app Deployment as pods on the local kubelet (one network namespace
 * each, cluster DNS), the LoadBalancer Service's stand-in on the host, the object store on the
 * bridge, and the state other commands (ops, backups) act on.
 */
export class ClusterRun {
  readonly store: LocalObjectStore;
  readonly backupTarget: BackupTarget;
  private constructor(
    private readonly opts: ClusterStartOptions,
    readonly cluster: LocalCluster,
    private readonly restoreResolver: () => void,
    readonly loadBalancer: LocalLoadBalancer,
    state: LocalClusterState,
    store: LocalObjectStore,
  ) {
    this.store = store;
    this.backupTarget = clusterBackupTarget(state, opts.cfg);
  }

  static async start(opts: ClusterStartOptions): Promise<ClusterRun> {
    const { cfg, log } = opts;
    log("rendering the program for the stack (Pulumi mocks, the local credentials as its secrets)...");
    const objects = await renderClusterObjects(opts.stack, {}, localSecretConfig(opts.creds, opts.apiToken));
    const cluster = new LocalCluster({
      objects,
      baseDir: opts.baseDir,
      bridge: new PodBridge(opts.site?.prefix ?? LOCAL_SITES.start.prefix, opts.site?.subnet ?? LOCAL_SITES.start.subnet),
      images: localImages(cfg),
      onEvent: (e: KubeletEvent) => {
        if (/exited|back-off|probe failed/.test(e.event)) log(`kubelet: ${e.pod}/${e.container ?? ""} ${e.event}`);
      },
    });
    cluster.setUp();
    const restoreResolver = resolveClusterNames(cluster.dns);
    const store = opts.makeStore(cluster.hostAddress);
    let lb: LocalLoadBalancer | undefined;
    try {
      await store.start();
      log(`object store (stands in for the backup region): ${store.access.endpoint}/${store.bucket}, state ${store.directory}`);
      const redis = workloadNamed(objects, "StatefulSet", "redis");
      const app = workloadNamed(objects, "Deployment", APP_COMPONENT);
      const backupNetns = cluster.namespaceOf("redis-backup-job");
      cluster.addClient("redis-backup-job", redis.namespace);
      const seed = opts.restore === undefined ? undefined : seeder(store, opts.restore, path.join(opts.baseDir, "seed-scratch"), log);
      await cluster.createAll(redis, undefined, seed);
      const hosts = LocalCluster.replicaNames(redis).map((p) => cluster.fqdn(redis, p));
      // Pods show as redis-0=master etc.: their FQDN up to the first dot.
      await waitForConvergenceShowingRoles(hosts, cfg.masterName, opts.creds, 180_000, (host) => host.split(".")[0]!);
      const state: LocalClusterState = {
        hostAddress: cluster.hostAddress,
        backupNetns,
        pods: LocalCluster.replicaNames(redis).map((name) => {
          const redisContainer = cluster.pod(name).spec.containers.find((c) => c.name === "redis")!;
          const envFile = path.join(opts.baseDir, "pods", name, "redis-env.json");
          fs.writeFileSync(envFile, JSON.stringify(redisContainer.env), { mode: 0o600 });
          return { name, host: cluster.fqdn(redis, name), netns: cluster.namespaceOf(name), scriptsDir: path.dirname(cluster.pod(name).scriptPath("redis", "lib.sh")), envFile };
        }),
      };
      writeClusterState(opts.baseDir, state);
      await cluster.createAll(app);
      const appPods = LocalCluster.replicaNames(app);
      await waitFor("the app pods to be ready", async () => appPods.every((p) => cluster.pod(p).ready), 60_000, 200);
      const port = appPort(app);
      lb = new LocalLoadBalancer("127.0.0.1", opts.publicPort, () =>
        appPods.filter((p) => cluster.pod(p).ready).map((p) => ({ host: cluster.ipOf(p), port })),
      );
      await lb.start();
      return new ClusterRun(opts, cluster, restoreResolver, lb, state, store);
    } catch (error) {
      await lb?.stop();
      restoreResolver();
      await cluster.shutdown();
      await store.stop();
      removeClusterState(opts.baseDir);
      throw error;
    }
  }

  /** SIGTERM to every container, SIGKILL after each pod's grace period; the network, DNS files and state go. */
  async stop(): Promise<void> {
    await this.loadBalancer.stop();
    removeClusterState(this.opts.baseDir);
    await this.cluster.shutdown(true);
    this.restoreResolver();
    await this.store.stop();
  }
}

/** `backup.sh seed` in each pod before it starts, its output logged. */
function seeder(store: LocalObjectStore, choice: SeedChoice, scratchDir: string, log: (line: string) => void): (pod: KubeletPod) => Promise<void> {
  return async (pod) => {
    const result = await seedBeforeStart(pod, { ...choice, store: store.access, scratchDir });
    for (const line of result.output.trim().split("\n").filter(Boolean)) log(`  ${pod.name}: ${line.replace(/^\S+ backup\[[^\]]*\] /, "")}`);
  };
}
