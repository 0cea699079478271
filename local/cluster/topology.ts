import { APP_COMPONENT, APP_PORT_NAMES } from "../../k8s/appTier";
import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { REDIS_SCRIPT_CONTAINERS, RedisScriptContainer, SENTINEL_SERVICE_NAME } from "../../k8s/redis/render";
import { resolveClusterNames } from "./harnessResolver";
import { localImages } from "./images";
import { PodBridge } from "./bridge";
import { ClusterDns } from "./dns";
import { KubeletEvent } from "./kubelet";
import { LocalCluster } from "./localCluster";
import { ClusterObjects, Workload, workloadNamed } from "./objects";
import { ScriptResult } from "../scriptProcess";
import { BackupTarget, backupTarget } from "../backup/job";
import { ObjectStoreAccess } from "../backup/objectStore";
import { SeedChoice } from "../../k8s/redis/podEnvironment";
import { seedBeforeStart } from "./seed";
import { LocalLoadBalancer } from "./loadBalancer";
import { waitFor } from "../../probe/wait";
import type { AppInstance } from "../measure/hostileClients";

/** A restore's seed: the object store, the backup (or point in time) to load, and where the first pod's output goes. */
export interface SeedOptions extends SeedChoice {
  store: ObjectStoreAccess;
  scratchDir: string;
  onOutput?: (chunk: string) => void;
  /** Added to the seed's environment (shorter waits in tests). */
  env?: Record<string, string>;
}

/** A Redis pod as a drill or a suite sees it. */
export interface TopologyPod {
  name: string;
  /** The name Sentinel, the peers and the harness know it by: its FQDN. */
  host: string;
}

export type RedisContainer = RedisScriptContainer;
/** The containers the Redis pods run unless told otherwise: the exporters are left out (only the monitoring suite reads them). */
const SCRIPT_CONTAINERS: string[] = Object.values(REDIS_SCRIPT_CONTAINERS);

/** The service instances a drill or a suite writes through. */
export interface TopologyApps {
  urls: string[];
  stop(): Promise<void>;
}

export interface ClusterTopologyOptions {
  dnsPropagationMs?: number;
  onEvent?: (event: KubeletEvent) => void;
  /** The Redis pods' containers to run; the script containers (no exporters) unless given. */
  containers?: string[];
}

/**
 * The rendered StatefulSet and Deployment on the local kubelet, one network namespace per pod,
 * with cluster DNS: peers know each other by FQDN, the app finds Sentinel through the Service
 * name, the kubelet restarts and probes, and a rescheduled pod gets a new address. What the
 * drills, the real-process suites and the bench run.
 */
export class ClusterTopology {
  readonly pods: TopologyPod[];
  private readonly containers: string[];
  private readonly cluster: LocalCluster;
  private readonly redis: Workload;
  private readonly appWorkload: Workload | undefined;
  private restoreResolver?: () => void;

  constructor(
    private readonly settings: StackConfig,
    objects: ClusterObjects,
    baseDir: string,
    bridge: PodBridge,
    opts: ClusterTopologyOptions = {},
  ) {
    this.containers = opts.containers ?? SCRIPT_CONTAINERS;
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

  /** How a client process that is not a pod (a peer client, redis-cli) runs with the cluster's names. */
  clientCommand(command: string, args: string[]) {
    this.client ??= this.cluster.addClient("drill-client", this.redis.namespace);
    return this.client(command, args);
  }

  /** Where the pods reach a service on the host: the local object store. */
  get hostAddress(): string {
    return this.cluster.hostAddress;
  }

  /** The pod network, before anything runs (the object store listens on its host address). */
  prepare(): void {
    if (this.restoreResolver) return;
    this.cluster.setUp();
    // The harness (on the node) resolves cluster names as the pods do.
    this.restoreResolver = resolveClusterNames(this.cluster.dns);
  }

  /**
   * Start the Redis pods at once; with SEED, each pod runs `backup.sh seed` first (the restore
   * init container). Resolves with each pod's seed result, in pod order (none without SEED); the
   * first pod's is the one that restores, and its output goes to SEED's onOutput.
   */
  async start(seed?: SeedOptions): Promise<ScriptResult[]> {
    this.prepare();
    const results = new Map<string, ScriptResult>();
    const first = this.pods[0]!.name;
    await this.cluster.createAll(
      this.redis,
      this.containers,
      seed ? async (pod) => void results.set(pod.name, await seedBeforeStart(pod, seed, pod.name === first ? seed.onOutput : undefined)) : undefined,
    );
    return this.pods.flatMap((p) => results.get(p.name) ?? []);
  }

  private backupClient?: (command: string, args: string[]) => { command: string; args: string[] };

  /** Where the backup job runs (a namespace of its own, with the cluster's names) and what it reaches. */
  backupTarget(): BackupTarget {
    this.backupClient ??= this.cluster.addClient("redis-backup-job", this.redis.namespace);
    const env = this.cluster.pod(this.pods[0]!.name).spec.containers[0]!.env;
    return backupTarget(this.settings, this.pods.map((p) => p.host), env, this.backupClient);
  }

  /** The region is lost: every pod, service instance and volume, at once. The network stays for the next one. */
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
  async startApps(ports: number[]): Promise<TopologyApps> {
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

  /** SIGKILL a container; it comes back as the kubelet brings it back. */
  async crash(pod: TopologyPod, container: RedisContainer): Promise<void> {
    this.kubelet(pod).signal(container, "SIGKILL");
  }

  /** Keep a container down (SIGKILL, or SIGTERM and its pod's grace period when GRACEFUL, no hook) until released. */
  hold(pod: TopologyPod, container: RedisContainer, graceful = false): Promise<void> {
    return this.kubelet(pod).hold(container, graceful);
  }

  async release(pod: TopologyPod, container: RedisContainer): Promise<void> {
    this.kubelet(pod).release(container);
  }

  isRunning(pod: TopologyPod, container: RedisContainer): boolean {
    return this.kubelet(pod).status(container).running;
  }

  signal(pod: TopologyPod, container: RedisContainer, signal: NodeJS.Signals): void {
    this.kubelet(pod).signal(container, signal);
  }

  /** The pod's node dies: every container killed at once, no hook, its link cut. */
  losePod(pod: TopologyPod): Promise<void> {
    return this.cluster.losePod(pod.name);
  }

  /** The lost pod's node is back: the pod starts again where it was. */
  async recoverPod(pod: TopologyPod): Promise<void> {
    await this.cluster.recoverPod(pod.name);
  }

  /** The pod is recreated elsewhere under its name and volume, with a new address. */
  async reschedule(pod: TopologyPod): Promise<void> {
    await this.cluster.reschedule(pod.name);
  }

  /**
   * `kubectl delete pod`: preStop, SIGTERM within the grace period; the pod is gone until
   * created again. Without HOOKS, as at its node's shutdown: SIGTERM and the grace period only.
   */
  async deletePod(pod: TopologyPod, hooks = true): Promise<void> {
    await this.cluster.deletePod(pod.name, hooks);
  }

  /**
   * The StatefulSet controller creates a missing pod again: its name and volume, a new address.
   * With SEED it runs `backup.sh seed` first and starts only if that succeeds (else this throws).
   */
  async createPod(pod: TopologyPod, seed?: SeedOptions): Promise<ScriptResult | undefined> {
    let seeded: ScriptResult | undefined;
    await this.cluster.createPod(this.redis, pod.name, this.containers, seed ? async (k) => void (seeded = await seedBeforeStart(k, seed, seed.onOutput)) : undefined);
    return seeded;
  }

  /** Planned restart, as a StatefulSet's rolling restart does it: the pod is deleted (preStop) and created again. */
  async restartPod(pod: TopologyPod): Promise<void> {
    await this.deletePod(pod);
    await this.createPod(pod);
  }

  /** Cut the pod off from every other pod and from the clients, as a failed node link would. */
  partition(pod: TopologyPod): void {
    this.cluster.partition(pod.name);
  }

  heal(pod: TopologyPod): void {
    this.cluster.heal(pod.name);
  }

  addressOf(pod: TopologyPod): string {
    return this.cluster.ipOf(pod.name);
  }

  /** Run one of the pod's scripts in its redis container (kubectl exec), with ENV added to the container's. */
  exec(pod: TopologyPod, script: string, args: string[] = [], env: Record<string, string> = {}, onOutput?: (chunk: string) => void): Promise<ScriptResult> {
    return this.kubelet(pod).script(REDIS_SCRIPT_CONTAINERS.redis, script, args, 0, env, onOutput);
  }

  /** The redis container's environment, as the kubelet resolved it (Secret and ConfigMap references, paths here). */
  redisEnv(pod: TopologyPod): Record<string, string> {
    return this.kubelet(pod).spec.containers.find((c) => c.name === REDIS_SCRIPT_CONTAINERS.redis)!.env;
  }

  /** What a container wrote to its log, every run of it. */
  log(pod: TopologyPod, container: string): string {
    const file = path.join(this.kubelet(pod).sandbox.logDir, `${container}.log`);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }

  /** Each app pod as a client inside the cluster reaches it: its own address (no load balancer), probe listener, process. */
  appInstances(): AppInstance[] {
    const app = this.appWorkload;
    if (!app) return [];
    const [port, probePort] = [appPort(app), appPort(app, APP_PORT_NAMES.probe)];
    return this.appPods.map((n) => {
      const host = this.cluster.ipOf(n);
      const container = this.cluster.pod(n).spec.containers[0]!.name;
      return { url: `http://${host}:${port}`, host, port, probeUrl: `http://${host}:${probePort}`, pid: this.cluster.pod(n).status(container).pid ?? 0 };
    });
  }

  private kubelet(pod: TopologyPod) {
    return this.cluster.pod(pod.name);
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.balancers.splice(0).map((lb) => lb.stop()));
    this.restoreResolver?.();
    await this.cluster.shutdown();
  }
}

/** The app container's port of that name (the public one unless told), as the Deployment declares it. */
export function appPort(app: Workload, name: string = APP_PORT_NAMES.http): number {
  const port = app.template.spec.containers[0]!.ports?.find((p) => p.name === name);
  if (!port) throw new Error(`${app.kind}/${app.name} declares no port named ${name}`);
  return port.containerPort;
}
