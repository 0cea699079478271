import { namespacesAvailable, PodBridge } from "../cluster/bridge";

/**
 * Where the local pods live on the network. With network namespaces (root and
 * iproute2), each pod gets its own namespace and address on a bridge, so a
 * pod's link can be cut like a node's; otherwise each pod gets a loopback
 * address and partitions are not possible.
 */
export interface PodNetwork {
  readonly kind: "namespaces" | "loopback";
  /** Pod i's address. */
  readonly addresses: string[];
  /** Where the pods reach a service run by the host (the local object store). */
  readonly hostAddress: string;
  /** Create what the pods need (idempotent: leftovers from a crashed run are replaced). */
  setUp(): void;
  tearDown(): void;
  /** The command line that runs `command` inside pod i's network. */
  wrap(pod: number, command: string, args: string[]): { command: string; args: string[] };
  /** Cut pod i off from every other pod and from the clients, as a failed node link would. */
  partition(pod: number): void;
  heal(pod: number): void;
}

export class LoopbackNetwork implements PodNetwork {
  readonly kind = "loopback";
  readonly addresses: string[];
  readonly hostAddress = "127.0.0.1";

  /** Pod i is `${prefix}.${10 + i}`; all of 127.0.0.0/8 is loopback on Linux. */
  constructor(pods: number, prefix: string) {
    this.addresses = Array.from({ length: pods }, (_, i) => `${prefix}.${10 + i}`);
  }

  setUp(): void {}
  tearDown(): void {}

  wrap(_pod: number, command: string, args: string[]) {
    return { command, args };
  }

  partition(): void {
    throw new Error("partitions need network namespaces (run as root with iproute2)");
  }

  heal(): void {}
}

/**
 * The process runtime's pods in network namespaces: pod i is `redis-<i>` on a PodBridge (its
 * namespace `<prefix>-redis-<i>`, address `${subnet}.${10 + i}`, as the bridge gives addresses
 * in order), the host (service instances and drill harness) `${subnet}.1`.
 */
export class NamespaceNetwork implements PodNetwork {
  readonly kind = "namespaces";
  readonly addresses: string[];
  readonly hostAddress: string;
  private bridge: PodBridge;

  constructor(
    private readonly pods: number,
    private readonly prefix: string,
    private readonly subnet: string,
  ) {
    this.bridge = new PodBridge(prefix, subnet);
    this.addresses = Array.from({ length: pods }, (_, i) => `${subnet}.${10 + i}`);
    this.hostAddress = this.bridge.hostAddress;
  }

  static available(): boolean {
    return namespacesAvailable();
  }

  namespace(pod: number): string {
    return this.bridge.namespaceOf(podName(pod));
  }

  setUp(): void {
    // A new bridge each time: one that was torn down gives on from its last address.
    this.bridge = new PodBridge(this.prefix, this.subnet);
    this.bridge.setUp();
    for (let i = 0; i < this.pods; i++) {
      const { ip } = this.bridge.addPod(podName(i));
      if (ip !== this.addresses[i]) throw new Error(`pod ${i} got ${ip}, not ${this.addresses[i]}`);
    }
  }

  tearDown(): void {
    this.bridge.tearDown();
  }

  wrap(pod: number, command: string, args: string[]) {
    return this.bridge.wrap(podName(pod), command, args);
  }

  partition(pod: number): void {
    this.bridge.partition(podName(pod));
  }

  heal(pod: number): void {
    this.bridge.heal(podName(pod));
  }
}

const podName = (pod: number) => `redis-${pod}`;

/** Distinct sites, so `npm start` and a drill (or its tests) can run side by side. */
export const SITES = {
  local: { prefix: "rdr", subnet: "10.231.0", loopback: "127.0.1" },
  // Prefixes never start with another's `<prefix>-`: a site removes the namespaces under its own.
  drill: { prefix: "rdrs", subnet: "10.231.1", loopback: "127.0.3" },
} as const;

/** Namespaces where the machine allows them, loopback addresses otherwise. */
export function podNetwork(pods: number, site: keyof typeof SITES, preferLoopback = false): PodNetwork {
  const { prefix, subnet, loopback } = SITES[site];
  return !preferLoopback && NamespaceNetwork.available() ? new NamespaceNetwork(pods, prefix, subnet) : new LoopbackNetwork(pods, loopback);
}
