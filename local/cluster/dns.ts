import * as fs from "fs";
import * as path from "path";
import { selects, ServiceObject } from "./objects";

/** A pod as cluster DNS sees it. */
export interface DnsPod {
  name: string;
  namespace: string;
  ip: string;
  labels: Record<string, string>;
  /** The headless Service that gives it a name of its own (a StatefulSet's serviceName). */
  subdomain?: string;
}

/** What a name resolves to when a fault overrides it: these addresses, or nothing at all. */
export type DnsFault = { addresses: string[] } | "nxdomain";

/** Where `ip netns exec` takes a namespace's own /etc files from (it bind-mounts each one). */
const NETNS_ETC = "/etc/netns";

/**
 * Cluster DNS for the local pods, kept in each pod namespace's own hosts file (ip-netns(8):
 * files in /etc/netns/NAME/ are bind-mounted over /etc/ for processes run with `ip netns
 * exec NAME`), so glibc resolves the cluster's names inside the pods and nothing global
 * changes. Records follow the Kubernetes DNS specification for headless Services: the
 * Service name resolves to its endpoints' addresses (ready ones only, unless
 * publishNotReadyAddresses), and `<pod>.<service>` to a pod of that subdomain. A change
 * reaches the pods after `propagationDelayMs`, as CoreDNS's cache and the endpoints
 * controller delay it in a cluster.
 */
export class ClusterDns {
  private readonly pods = new Map<string, { pod: DnsPod; ready: boolean }>();
  private readonly faults = new Map<string, DnsFault>();
  /** Pod namespace -> the pod's own entry, which the kubelet writes into every pod's /etc/hosts. */
  private readonly attached = new Map<string, string | undefined>();
  /** What propagation has delivered, before faults. */
  private delivered = new Map<string, string[]>();
  private published = new Map<string, string[]>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly services: ServiceObject[],
    private readonly propagationDelayMs = 0,
    readonly domain = "cluster.local",
  ) {}

  /**
   * Give a pod namespace the cluster's names; call before anything runs in it. SELF is the
   * pod's own line ("ip fqdn hostname"): the kubelet writes it into every pod's hosts file,
   * so a pod always resolves its own name, whatever DNS says.
   */
  attach(netns: string, searchNamespace: string, self?: { ip: string; names: string[] }): void {
    const dir = path.join(NETNS_ETC, netns);
    fs.mkdirSync(dir, { recursive: true });
    // Nothing answers on port 53 in a pod namespace, so a name outside the hosts file fails at once.
    const search = [`${searchNamespace}.svc.${this.domain}`, `svc.${this.domain}`, this.domain].join(" ");
    fs.writeFileSync(path.join(dir, "resolv.conf"), `search ${search}\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n`);
    this.attached.set(netns, self ? `${self.ip} ${self.names.join(" ")}` : undefined);
    this.writeHosts(netns);
  }

  detach(netns: string): void {
    this.attached.delete(netns);
    fs.rmSync(path.join(NETNS_ETC, netns), { recursive: true, force: true });
  }

  setPod(pod: DnsPod, ready: boolean): void {
    this.pods.set(pod.name, { pod, ready });
    this.changed();
  }

  removePod(name: string): void {
    if (this.pods.delete(name)) this.changed();
  }

  /** Override what a name resolves to (a stale or a missing record), at once; clearFault restores it. */
  fault(name: string, fault: DnsFault): void {
    this.faults.set(name, fault);
    this.publish(this.delivered);
  }

  clearFault(name: string): void {
    if (this.faults.delete(name)) this.publish(this.delivered);
  }

  /** What a pod resolving `name` gets now (the harness resolves through this). */
  resolve(name: string): string[] {
    return this.published.get(name.replace(/\.$/, "")) ?? [];
  }

  serviceName(service: string, namespace: string): string {
    return `${service}.${namespace}.svc.${this.domain}`;
  }

  /** Stop pending updates and remove every namespace's files. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const netns of [...this.attached.keys()]) this.detach(netns);
  }

  private changed(): void {
    const records = this.records();
    if (this.propagationDelayMs <= 0) return this.publish(records);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.publish(records);
    }, this.propagationDelayMs);
    this.timers.add(timer);
  }

  /** The records the current pods and their readiness call for (faults not applied). */
  private records(): Map<string, string[]> {
    const records = new Map<string, string[]>();
    const add = (name: string, address: string) => records.set(name, [...(records.get(name) ?? []), address]);
    for (const service of this.services.filter((s) => s.headless)) {
      for (const { pod, ready } of this.pods.values()) {
        if (pod.namespace !== service.namespace || !selects(service, pod.labels)) continue;
        if (!ready && !service.publishNotReadyAddresses) continue;
        const name = this.serviceName(service.name, service.namespace);
        add(name, pod.ip);
        if (pod.subdomain === service.name) add(`${pod.name}.${name}`, pod.ip);
      }
    }
    return records;
  }

  private publish(records: Map<string, string[]>): void {
    this.delivered = records;
    const withFaults = new Map(records);
    for (const [name, fault] of this.faults) {
      if (fault === "nxdomain") withFaults.delete(name);
      else withFaults.set(name, fault.addresses);
    }
    this.published = withFaults;
    for (const netns of this.attached.keys()) this.writeHosts(netns);
  }

  // Rewritten in place: the bind mount of a running pod holds this inode, so a new file would go unseen.
  private writeHosts(netns: string): void {
    const self = this.attached.get(netns);
    const lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback", ...(self ? [self] : [])];
    for (const [name, addresses] of this.published) for (const address of addresses) lines.push(`${address} ${name}`);
    fs.writeFileSync(path.join(NETNS_ETC, netns, "hosts"), `${lines.join("\n")}\n`);
  }
}
