import { APP_COMPONENT } from "../../k8s/appTier";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { SENTINEL_SERVICE_NAME } from "../../k8s/redis/render";
import { Credentials } from "../../probe/connection";
import { resolveClusterNames } from "../cluster/harnessResolver";
import { AppProcess, APP_BINARY, startApp, waitUntilReady } from "../process/appProcess";
import { PodBridge } from "../cluster/bridge";
import { ClusterDns } from "../cluster/dns";
import { KubeletEvent } from "../cluster/kubelet";
import { LocalCluster } from "../cluster/localCluster";
import { ClusterObjects, Workload, workloadNamed } from "../cluster/objects";
import { PodNetwork } from "../process/network";
import { ScriptResult } from "../scriptProcess";
import { BackupTarget, backupTarget, processBackupTarget, seedAndStartAll } from "../backup/job";
import { ObjectStoreAccess } from "../backup/objectStore";
import { SeedChoice } from "../../k8s/redis/podEnvironment";
import { seedBeforeStart } from "../cluster/seed";
import { LocalLoadBalancer } from "../cluster/loadBalancer";
import * as fs from "fs";
import { COMPONENTS, LocalPod, LocalTopology } from "../process/topology";
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
  /** The name Sentinel, the peers and the harness know it by: its FQDN in the cluster runtime, its address otherwise. */
  host: string;
}

export type RedisContainer = (typeof COMPONENTS)[number];

/** The service instances a drill writes through. */
export interface DrillApps {
  urls: string[];
  stop(): Promise<void>;
}

/**
 * What a drill scenario does to the Redis tier, in either runtime: the rendered manifests on
 * the local kubelet with cluster DNS ("cluster"), or the pods' scripts as plain processes
 * ("processes": no namespaces here, so no kubelet, no DNS, no partitions).
 */
export interface DrillTopology {
  readonly kind: "cluster" | "processes";
  readonly pods: DrillPod[];
  /** Whether a pod's link can be cut (each pod in its own network namespace). */
  readonly canPartition: boolean;
  /** Cluster DNS, where the runtime has it (for DNS faults). */
  readonly dns?: ClusterDns;
  /** The Sentinel Service's name, which the app is given, where the runtime has cluster DNS. */
  readonly sentinelService?: string;
  /** How a client process that is not a pod runs with the cluster's names (identity without cluster DNS). */
  clientCommand(command: string, args: string[]): { command: string; args: string[] };
  /** The pod network, before anything runs (the object store listens on its host address). */
  prepare(): void;
  /** Where the pods reach a service on the host: the local object store. */
  readonly hostAddress: string;
  /** Start the Redis pods; with SEED, each pod runs `backup.sh seed` first (the restore init container). */
  start(seed?: SeedOptions): Promise<ScriptResult | undefined>;
  /** The service instances, at URLs that stay the same across destroy() (host ports). */
  startApps(cfg: StackConfig, creds: Credentials, apiToken: string, ports: number[], logDir: string): Promise<DrillApps>;
  /** Where the backup job runs and what it reaches. */
  backupTarget(): BackupTarget;
  /** The region is lost: every pod, service instance and volume, at once. The network stays for the next one. */
  destroy(): Promise<void>;
  /** SIGKILL a container; it comes back as the kubelet brings it back. */
  crash(pod: DrillPod, container: RedisContainer): Promise<void>;
  /** Keep a container down (killed, not restarted) until released. */
  hold(pod: DrillPod, container: RedisContainer): Promise<void>;
  release(pod: DrillPod, container: RedisContainer): Promise<void>;
  signal(pod: DrillPod, container: RedisContainer, signal: NodeJS.Signals): void;
  /** The pod's node dies: every container killed at once, no hook. */
  losePod(pod: DrillPod): Promise<void>;
  /** The lost pod's node is back: the pod starts again where it was. */
  recoverPod(pod: DrillPod): Promise<void>;
  /** The pod is recreated elsewhere under its name and volume, with a new address (cluster only). */
  reschedule(pod: DrillPod): Promise<void>;
  /** Planned restart: preStop, SIGTERM within the grace period, then the pod is back. */
  restartPod(pod: DrillPod): Promise<void>;
  partition(pod: DrillPod): void;
  heal(pod: DrillPod): void;
  addressOf(pod: DrillPod): string;
  /** Run one of the pod's scripts in it (kubectl exec). */
  exec(pod: DrillPod, script: string, args?: string[]): Promise<ScriptResult>;
  shutdown(): Promise<void>;
}

const KUBELET_RESTART_MS = 1000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The pods' scripts as host processes (LocalTopology): the fallback without namespaces. */
export class ProcessDrillTopology implements DrillTopology {
  readonly kind = "processes";
  readonly pods: DrillPod[];
  private topology: LocalTopology;
  private apps: AppProcess[] = [];
  readonly canPartition: boolean;

  constructor(
    private readonly cfg: StackConfig,
    private readonly baseDir: string,
    private readonly network: PodNetwork,
    private readonly creds: Credentials,
  ) {
    this.topology = new LocalTopology({ cfg, baseDir, network, ...creds });
    this.canPartition = network.kind === "namespaces";
    this.pods = this.topology.pods.map((p) => ({ name: p.name, host: p.address }));
  }

  get hostAddress(): string {
    return this.network.hostAddress;
  }

  prepare(): void {
    this.topology.prepare();
  }

  backupTarget(): BackupTarget {
    return processBackupTarget(this.topology);
  }

  async destroy(): Promise<void> {
    const apps = this.apps.splice(0);
    for (const app of apps) app.child.kill("SIGKILL");
    await Promise.all([...apps.map((a) => a.stop()), ...this.topology.pods.map((p) => this.topology.stopPod(p, "SIGKILL"))]);
    fs.rmSync(this.baseDir, { recursive: true, force: true });
    this.topology = new LocalTopology({ cfg: this.cfg, baseDir: this.baseDir, network: this.network, ...this.creds });
  }

  private local(pod: DrillPod): LocalPod {
    return this.topology.pods.find((p) => p.name === pod.name)!;
  }

  // Only the first pod of an empty topology seeds, once the others run; they replicate it (backup.sh seed decides).
  async start(seed?: SeedOptions): Promise<ScriptResult | undefined> {
    this.topology.prepare();
    const seeded = seed ? (await seedAndStartAll(this.topology, seed.store, seed, seed.scratchDir, seed.onOutput))[0] : undefined;
    if (seeded && seeded.code !== 0) throw new Error(`seeding failed: ${seeded.output}`);
    this.topology.startAll();
    return seeded;
  }

  clientCommand(command: string, args: string[]) {
    return { command, args };
  }

  async startApps(cfg: StackConfig, creds: Credentials, apiToken: string, ports: number[], logDir: string): Promise<DrillApps> {
    const sentinels = this.pods.map((p) => p.host);
    for (const [i, port] of ports.entries()) this.apps.push(await startApp({ cfg, sentinels, creds, apiToken, port, logFile: path.join(logDir, `app-${i}.log`) }));
    await waitUntilReady(this.apps);
    return { urls: this.apps.map((a) => a.url), stop: () => this.stopApps() };
  }

  private async stopApps(): Promise<void> {
    for (const app of this.apps.splice(0)) await app.stop();
  }

  // Nothing restarts a host process on its own: the harness does, a second later, as the kubelet would.
  async crash(pod: DrillPod, container: RedisContainer): Promise<void> {
    this.topology.signal(this.local(pod), container, "SIGKILL");
    await sleep(KUBELET_RESTART_MS);
    this.topology.start(this.local(pod), container);
  }

  async hold(pod: DrillPod, container: RedisContainer): Promise<void> {
    await this.topology.stop(this.local(pod), container, "SIGKILL");
  }

  async release(pod: DrillPod, container: RedisContainer): Promise<void> {
    if (!this.topology.isRunning(this.local(pod), container)) this.topology.start(this.local(pod), container);
  }

  signal(pod: DrillPod, container: RedisContainer, signal: NodeJS.Signals): void {
    this.topology.signal(this.local(pod), container, signal);
  }

  async losePod(pod: DrillPod): Promise<void> {
    await this.topology.stopPod(this.local(pod), "SIGKILL");
  }

  async recoverPod(pod: DrillPod): Promise<void> {
    this.topology.startPod(this.local(pod));
  }

  async reschedule(): Promise<void> {
    throw new Error("rescheduling a pod onto a new address needs the cluster runtime (network namespaces)");
  }

  async restartPod(pod: DrillPod): Promise<void> {
    const local = this.local(pod);
    await Promise.all([this.topology.runScript(local, "prestop-redis.sh"), this.topology.runScript(local, "prestop-sentinel.sh")]);
    await this.topology.stopPod(local);
    this.topology.startPod(local);
  }

  partition(pod: DrillPod): void {
    this.topology.network.partition(this.topology.pods.indexOf(this.local(pod)));
  }

  heal(pod: DrillPod): void {
    this.topology.network.heal(this.topology.pods.indexOf(this.local(pod)));
  }

  addressOf(pod: DrillPod): string {
    return this.local(pod).address;
  }

  exec(pod: DrillPod, script: string, args: string[] = []): Promise<ScriptResult> {
    return this.topology.runScript(this.local(pod), script, args);
  }

  async shutdown(): Promise<void> {
    await this.stopApps();
    await this.topology.shutdown();
  }
}

/**
 * The rendered StatefulSet and Deployment on the local kubelet, one network namespace per pod,
 * with cluster DNS: peers know each other by FQDN, the app finds Sentinel through the Service
 * name, the kubelet restarts and probes, and a rescheduled pod gets a new address.
 */
export class ClusterDrillTopology implements DrillTopology {
  readonly kind = "cluster";
  readonly canPartition = true;
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
      images: { [settings.appImage]: [APP_BINARY] },
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
      [...COMPONENTS],
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
  async startApps(_cfg: StackConfig, _creds: Credentials, _apiToken: string, ports: number[]): Promise<DrillApps> {
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
    await this.cluster.createPod(this.redis, pod.name, [...COMPONENTS]);
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
