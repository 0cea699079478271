import { APP_COMPONENT } from "../../k8s/appTier";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { REDIS_SCRIPT_CONTAINERS, RedisScriptContainer, SENTINEL_SERVICE_NAME } from "../../k8s/redis/render";
import { Credentials } from "../../probe/connection";
import { resolveClusterNames } from "../cluster/harnessResolver";
import { localImages } from "../cluster/images";
import { PodBridge } from "../cluster/bridge";
import { ClusterDns } from "../cluster/dns";
import { KubeletEvent } from "../cluster/kubelet";
import { LocalCluster } from "../cluster/localCluster";
import { ClusterObjects, Workload, workloadNamed } from "../cluster/objects";
import { ScriptResult } from "../scriptProcess";
import { BackupTarget, backupTarget } from "../backup/job";
import { ObjectStoreAccess } from "../backup/objectStore";
import { SeedChoice } from "../../k8s/redis/podEnvironment";
import { seedBeforeStart } from "../cluster/seed";
import { LocalLoadBalancer } from "../cluster/loadBalancer";
import { waitFor } from "../../probe/wait";

/** A restore's seed: the object store, the backup (or point in time) to load, and where the first pod's output goes. */
export interface SeedOptions extends SeedChoice {
  store: ObjectStoreAccess;
  scratchDir: string;
  onOutput?: (chunk: string) => void;
}

/** A Redis pod as a drill sees it. */
export interface DrillPod {
  name: string;
  /** The name Sentinel, the peers and the harness know it by: its FQDN. */
  host: string;
}

export type RedisContainer = RedisScriptContainer;
/** The containers a drill's Redis pods run: the exporters are left out (no scenario reads them). */
const DRILL_CONTAINERS: string[] = Object.values(REDIS_SCRIPT_CONTAINERS);

/** The service instances a drill writes through. */
export interface DrillApps {
  urls: string[];
  stop(): Promise<void>;
}

/**
 * The rendered StatefulSet and Deployment on the local kubelet, one network namespace per pod,
 * with cluster DNS: peers know each other by FQDN, the app finds Sentinel through the Service
 * name, the kubelet restarts and probes, and a rescheduled pod gets a new address.
 */
export class DrillTopology {
  readonly pods: DrillPod[];
  private readonly cluster: LocalCluster;
  private readonly redis: Workload;
  private readonly appWorkload: Workload | undefined;
  private restoreResolver?: () => void;

  constructor(
    private readonly settings: StackConfig,
    objects: ClusterObjects,
    baseDir: string,
    bridge: PodBridge,
    opts: { dnsPropagationMs?: number; onEvent?: (event: KubeletEvent) => void },
  ) {
    this.cluster = new LocalCluster({
      objects,
      baseDir,
      bridge,
      images: localImages(settings),
      ...(opts.dnsPropagationMs !== undefined ? { dnsPropagationMs: opts.dnsPropagationMs } : {}),
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    });
    this.redis = workloadNamed(objects, "StatefulSet", "redis");
    this.pods = Array.from({ length: this.redis.replicas }, (_, i) => {
      const name = `${this.redis.name}-${i}`;
      return { name, host: this.cluster.fqdn(this.redis, name) };
    });
    this.appWorkload = objects.workloads.find((w) => w.kind === "Deployment" && w.name === APP_COMPONENT);
  }

  get dns(): ClusterDns {
    return this.cluster.dns;
  }

  get sentinelService(): string {
    return this.dns.serviceName(SENTINEL_SERVICE_NAME, this.redis.namespace);
  }

  private client?: (command: string, args: string[]) => { command: string; args: string[] };

  clientCommand(command: string, args: string[]) {
    this.client ??= this.cluster.addClient("drill-client", this.redis.namespace);
    return this.client(command, args);
  }

  get hostAddress(): string {
    return this.cluster.hostAddress;
  }

  prepare(): void {
    if (this.restoreResolver) return;
    this.cluster.setUp();
    // The harness (on the node) resolves cluster names as the pods do.
    this.restoreResolver = resolveClusterNames(this.cluster.dns);
  }

  async start(seed?: SeedOptions): Promise<ScriptResult | undefined> {
    this.prepare();
    let seeded: ScriptResult | undefined;
    const first = this.pods[0]!.name;
    await this.cluster.createAll(
      this.redis,
      DRILL_CONTAINERS,
      seed
        ? async (pod) => {
            const result = await seedBeforeStart(pod, seed, pod.name === first ? seed.onOutput : undefined);
            if (pod.name === first) seeded = result;
          }
        : undefined,
    );
    return seeded;
  }

  private backupClient?: (command: string, args: string[]) => { command: string; args: string[] };

  backupTarget(): BackupTarget {
    this.backupClient ??= this.cluster.addClient("redis-backup-job", this.redis.namespace);
    const env = this.cluster.pod(this.pods[0]!.name).spec.containers[0]!.env;
    return backupTarget(this.settings, this.pods.map((p) => p.host), env, this.backupClient);
  }

  async destroy(): Promise<void> {
    this.appPods = [];
    // The backup job's namespace is not a pod: it stays, as the CronJob would in the new region.
    await this.cluster.destroyAll();
  }

  private appPods: string[] = [];
  private readonly balancers: LocalLoadBalancer[] = [];

  /**
   * The Deployment's pods (its own replica count), behind one stand-in for the LoadBalancer
   * Service per port: each spreads over the app pods ready at the time, so the URLs outlive
   * the pods (a region's recovery brings new ones up behind the same URLs).
   */
  async startApps(ports: number[]): Promise<DrillApps> {
    const app = this.appWorkload;
    if (!app) throw new Error("the rendered program has no Deployment for the app");
    const names = LocalCluster.replicaNames(app);
    await Promise.all(names.map((name) => this.cluster.createPod(app, name)));
    await waitFor("the app pods to be ready", async () => names.every((n) => this.cluster.pod(n).ready), 60_000, 100);
    this.appPods = names;
    const port = appPort(app);
    if (this.balancers.length === 0) {
      for (const listen of ports) {
        const lb = new LocalLoadBalancer("127.0.0.1", listen, () =>
          this.appPods.filter((n) => this.cluster.pod(n).ready).map((n) => ({ host: this.cluster.ipOf(n), port })),
        );
        await lb.start();
        this.balancers.push(lb);
      }
    }
    return {
      urls: this.balancers.map((lb) => lb.url),
      stop: async () => {
        await Promise.all(this.balancers.splice(0).map((lb) => lb.stop()));
        await Promise.all(names.filter((n) => this.cluster.podNames().includes(n)).map((n) => this.cluster.pod(n).kill()));
      },
    };
  }

  async crash(pod: DrillPod, container: RedisContainer): Promise<void> {
    this.cluster.pod(pod.name).signal(container, "SIGKILL");
  }

  hold(pod: DrillPod, container: RedisContainer): Promise<void> {
    return this.cluster.pod(pod.name).hold(container);
  }

  async release(pod: DrillPod, container: RedisContainer): Promise<void> {
    this.cluster.pod(pod.name).release(container);
  }

  signal(pod: DrillPod, container: RedisContainer, signal: NodeJS.Signals): void {
    this.cluster.pod(pod.name).signal(container, signal);
  }

  losePod(pod: DrillPod): Promise<void> {
    return this.cluster.losePod(pod.name);
  }

  async recoverPod(pod: DrillPod): Promise<void> {
    await this.cluster.recoverPod(pod.name);
  }

  async reschedule(pod: DrillPod): Promise<void> {
    await this.cluster.reschedule(pod.name);
  }

  // A StatefulSet's rolling restart deletes the pod (the kubelet runs preStop) and recreates it.
  async restartPod(pod: DrillPod): Promise<void> {
    await this.cluster.deletePod(pod.name);
    await this.cluster.createPod(this.redis, pod.name, DRILL_CONTAINERS);
  }

  partition(pod: DrillPod): void {
    this.cluster.partition(pod.name);
  }

  heal(pod: DrillPod): void {
    this.cluster.heal(pod.name);
  }

  addressOf(pod: DrillPod): string {
    return this.cluster.ipOf(pod.name);
  }

  exec(pod: DrillPod, script: string, args: string[] = []): Promise<ScriptResult> {
    return this.cluster.pod(pod.name).script("redis", script, args);
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.balancers.splice(0).map((lb) => lb.stop()));
    this.restoreResolver?.();
    await this.cluster.shutdown();
  }
}

function appPort(app: Workload): number {
  const container = app.template.spec.containers[0]!;
  const port = container.ports?.find((p) => p.name === "http") ?? container.ports?.[0];
  if (!port) throw new Error(`${app.kind}/${app.name} declares no port`);
  return port.containerPort;
}
