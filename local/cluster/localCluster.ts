import * as fs from "fs";
import * as path from "path";
import { PodBridge } from "./bridge";
import { ClusterDns } from "./dns";
import { KubeletEvent, KubeletPod, KUBELET_BACKOFF, RestartBackoff } from "./kubelet";
import { ClusterObjects, Workload } from "./objects";
import { podSpec } from "./podSpec";

export interface LocalClusterOptions {
  objects: ClusterObjects;
  /** Pods' volumes and logs (pods/<name>), and the StatefulSets' claims (claims/), which outlive pods. */
  baseDir: string;
  bridge: PodBridge;
  /** How long a readiness or address change takes to reach every pod's resolver. */
  dnsPropagationMs?: number;
  /** Image -> entrypoint here, for containers that run their image's own entrypoint. */
  images: Record<string, string[] | undefined>;
  backoff?: RestartBackoff;
  onEvent?: (event: KubeletEvent) => void;
}

interface RunningPod {
  kubelet: KubeletPod;
  workload: Workload;
  ip: string;
  containers?: string[];
  /** The node is gone: processes dead, link cut, but the pod (and its DNS records) not yet deleted. */
  lost: boolean;
}

/**
 * A one-node cluster on this machine for the rendered workloads: each pod in its own network
 * namespace on a bridge, run by a KubeletPod, named by ClusterDns (records follow readiness).
 * Pods are created, deleted (gracefully), lost with their node, and rescheduled: recreated
 * under the same name and claims with a new address.
 */
export class LocalCluster {
  readonly dns: ClusterDns;
  private readonly pods = new Map<string, RunningPod>();
  private readonly clients = new Set<string>();

  constructor(private readonly opts: LocalClusterOptions) {
    this.dns = new ClusterDns(opts.objects.services, opts.dnsPropagationMs ?? 0);
  }

  setUp(): void {
    this.opts.bridge.setUp();
  }

  get hostAddress(): string {
    return this.opts.bridge.hostAddress;
  }

  /** `<pod>.<serviceName>.<namespace>.svc.cluster.local` for a StatefulSet's pod. */
  fqdn(workload: Workload, pod: string): string {
    if (!workload.serviceName) throw new Error(`${workload.kind}/${workload.name} has no serviceName, so its pods have no DNS name`);
    return `${pod}.${this.dns.serviceName(workload.serviceName, workload.namespace)}`;
  }

  pod(name: string): KubeletPod {
    const running = this.pods.get(name);
    if (!running) throw new Error(`no pod ${name}`);
    return running.kubelet;
  }

  podNames(): string[] {
    return [...this.pods.keys()];
  }

  ipOf(name: string): string {
    const running = this.pods.get(name);
    if (!running) throw new Error(`no pod ${name}`);
    return running.ip;
  }

  /** Schedule a pod of the workload: a fresh namespace and address, its volumes, then the kubelet starts it. */
  async createPod(workload: Workload, name: string, containers?: string[], beforeStart?: (pod: KubeletPod) => Promise<void>): Promise<KubeletPod> {
    if (this.pods.has(name)) throw new Error(`pod ${name} exists`);
    const { namespace: netns, ip } = this.opts.bridge.addPod(name);
    return this.run(workload, name, netns, ip, containers, beforeStart);
  }

  /** A lost pod's node comes back: the link is restored and the kubelet starts the pod again, at the same address. */
  async recoverPod(name: string): Promise<KubeletPod> {
    const running = this.pods.get(name);
    if (!running?.lost) throw new Error(`pod ${name} is not lost`);
    this.pods.delete(name);
    this.opts.bridge.heal(name);
    return this.run(running.workload, name, this.opts.bridge.namespaceOf(name), running.ip, running.containers);
  }

  private async run(workload: Workload, name: string, netns: string, ip: string, containers?: string[], beforeStart?: (pod: KubeletPod) => Promise<void>): Promise<KubeletPod> {
    const dir = path.join(this.opts.baseDir, "pods", name);
    fs.mkdirSync(dir, { recursive: true });
    const spec = podSpec(workload, { name, ip, dir, claimsDir: path.join(this.opts.baseDir, "claims"), images: this.opts.images, ...(containers ? { containers } : {}) }, this.opts.objects);
    const self = workload.serviceName ? { ip, names: [this.fqdn(workload, name), name] } : { ip, names: [name] };
    this.dns.attach(netns, workload.namespace, self);
    const kubelet = new KubeletPod(spec, { wrap: (command, args) => this.opts.bridge.wrap(name, command, args), ip, logDir: path.join(dir, "logs") }, this.opts.backoff ?? KUBELET_BACKOFF);
    const dnsPod = { name, namespace: workload.namespace, ip, labels: spec.labels, ...(workload.serviceName ? { subdomain: workload.serviceName } : {}) };
    kubelet.on("readiness", (ready: boolean) => {
      if (this.pods.get(name)?.kubelet === kubelet) this.dns.setPod(dnsPod, ready);
    });
    if (this.opts.onEvent) kubelet.on("event", this.opts.onEvent);
    this.pods.set(name, { kubelet, workload, ip, lost: false, ...(containers ? { containers } : {}) });
    this.dns.setPod(dnsPod, false);
    // Work an init container of the rendered template would do when so configured (a restore's seed).
    await beforeStart?.(kubelet);
    await kubelet.start();
    return kubelet;
  }

  /**
   * A namespace on the pod network with the cluster's names and no kubelet: where a client
   * process that is not a pod (a peer client of a drill) runs as if inside the cluster.
   */
  addClient(name: string, namespace: string): (command: string, args: string[]) => { command: string; args: string[] } {
    const { namespace: netns } = this.opts.bridge.addPod(name);
    this.dns.attach(netns, namespace);
    this.clients.add(name);
    return (command, args) => this.opts.bridge.wrap(name, command, args);
  }

  /** The names of a workload's pods: ordinals for a StatefulSet, letters for a Deployment. */
  static replicaNames(workload: Workload): string[] {
    return Array.from({ length: workload.replicas }, (_, i) => (workload.kind === "StatefulSet" ? `${workload.name}-${i}` : `${workload.name}-${String.fromCharCode(97 + i)}`));
  }

  /** Every replica of a workload at once (podManagementPolicy Parallel). */
  async createAll(workload: Workload, containers?: string[], beforeStart?: (pod: KubeletPod) => Promise<void>): Promise<void> {
    await Promise.all(LocalCluster.replicaNames(workload).map((name) => this.createPod(workload, name, containers, beforeStart)));
  }

  namespaceOf(name: string): string {
    return this.opts.bridge.namespaceOf(name);
  }

  /**
   * `kubectl delete pod`: preStop, SIGTERM, grace; then the name and address are gone. Without
   * HOOKS, as its node shuts down: SIGTERM and the grace period only.
   */
  async deletePod(name: string, hooks = true): Promise<void> {
    const running = this.pods.get(name);
    if (!running) return;
    await (hooks ? running.kubelet.delete() : running.kubelet.shutdown());
    this.remove(name);
  }

  /** The pod's node dies: every process is killed and its link is cut; the pod object and its DNS records stay until it is deleted. */
  async losePod(name: string): Promise<void> {
    const running = this.pods.get(name);
    if (!running || running.lost) return;
    running.lost = true;
    this.opts.bridge.partition(name);
    await running.kubelet.kill();
  }

  /** The pod, lost or not, is recreated under its name with its claims, on a new address (another node). */
  async reschedule(name: string, containers?: string[]): Promise<KubeletPod> {
    const running = this.pods.get(name);
    if (!running) throw new Error(`no pod ${name}`);
    await running.kubelet.kill();
    this.remove(name);
    return this.createPod(running.workload, name, containers ?? running.containers);
  }

  /** Every pod and volume gone at once (the region is lost): processes killed, claims deleted; the network stays. */
  async destroyAll(): Promise<void> {
    await Promise.all([...this.pods.values()].map((p) => p.kubelet.kill()));
    for (const name of [...this.pods.keys()]) this.remove(name);
    fs.rmSync(path.join(this.opts.baseDir, "claims"), { recursive: true, force: true });
    fs.rmSync(path.join(this.opts.baseDir, "pods"), { recursive: true, force: true });
  }

  /** Cut the pod's link (its processes live on, cut off), as a failed node link would; heal restores it. */
  partition(name: string): void {
    this.opts.bridge.partition(name);
  }

  heal(name: string): void {
    this.opts.bridge.heal(name);
  }

  /** Stop every pod (SIGTERM and the grace period when GRACEFUL, else SIGKILL) and remove the network and DNS files. */
  async shutdown(graceful = false): Promise<void> {
    await Promise.all([...this.pods.values()].map((p) => (graceful ? p.kubelet.shutdown() : p.kubelet.kill())));
    for (const name of [...this.pods.keys()]) this.remove(name);
    for (const name of this.clients) this.dns.detach(this.opts.bridge.namespaceOf(name));
    this.clients.clear();
    this.dns.close();
    this.opts.bridge.tearDown();
  }

  private remove(name: string): void {
    this.pods.delete(name);
    this.dns.removePod(name);
    this.dns.detach(this.opts.bridge.namespaceOf(name));
    this.opts.bridge.removePod(name);
  }
}
