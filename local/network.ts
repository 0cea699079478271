import { spawnSync } from "child_process";

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

function ip(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")}: ${(result.stderr || result.error?.message || "").trim()}`);
}

const ipQuiet = (...args: string[]) => spawnSync("ip", args, { stdio: "ignore" }).status === 0;

/**
 * One namespace per pod (`<prefix>-redis-<i>`), each with a veth whose other end
 * sits on a bridge in the host namespace. The host (the service instances and
 * the drill harness) has `${subnet}.1` on the bridge; pod i has `${subnet}.${10 + i}`.
 */
export class NamespaceNetwork implements PodNetwork {
  readonly kind = "namespaces";
  readonly addresses: string[];
  readonly hostAddress: string;
  private readonly bridge: string;

  constructor(
    private readonly pods: number,
    private readonly prefix: string,
    private readonly subnet: string,
  ) {
    this.addresses = Array.from({ length: pods }, (_, i) => `${subnet}.${10 + i}`);
    this.hostAddress = `${subnet}.1`;
    this.bridge = `${prefix}-br`;
  }

  /** Whether this machine lets us build the whole layout: a namespace, a bridge and a veth into it. */
  static available(): boolean {
    if (process.getuid?.() !== 0) return false;
    const ns = `rdr-probe-${process.pid}`;
    const bridge = `rdrpb${process.pid % 100000}`;
    const veth = `rdrpv${process.pid % 100000}`;
    try {
      return (
        ipQuiet("netns", "add", ns) &&
        ipQuiet("link", "add", bridge, "type", "bridge") &&
        ipQuiet("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns) &&
        ipQuiet("link", "set", veth, "master", bridge)
      );
    } finally {
      ipQuiet("link", "delete", veth);
      ipQuiet("link", "delete", bridge);
      ipQuiet("netns", "delete", ns);
    }
  }

  namespace(pod: number): string {
    return `${this.prefix}-redis-${pod}`;
  }

  private hostEnd(pod: number): string {
    return `${this.prefix}-v${pod}`;
  }

  setUp(): void {
    this.tearDown();
    ip("link", "add", this.bridge, "type", "bridge");
    ip("addr", "add", `${this.subnet}.1/24`, "dev", this.bridge);
    ip("link", "set", this.bridge, "up");
    for (let i = 0; i < this.pods; i++) {
      const ns = this.namespace(i);
      ip("netns", "add", ns);
      ip("link", "add", this.hostEnd(i), "type", "veth", "peer", "name", "eth0", "netns", ns);
      ip("link", "set", this.hostEnd(i), "master", this.bridge, "up");
      ip("-n", ns, "addr", "add", `${this.addresses[i]}/24`, "dev", "eth0");
      ip("-n", ns, "link", "set", "eth0", "up");
      ip("-n", ns, "link", "set", "lo", "up");
    }
  }

  tearDown(): void {
    for (let i = 0; i < this.pods; i++) {
      ipQuiet("netns", "delete", this.namespace(i));
      ipQuiet("link", "delete", this.hostEnd(i));
    }
    ipQuiet("link", "delete", this.bridge);
  }

  wrap(pod: number, command: string, args: string[]) {
    return { command: "ip", args: ["netns", "exec", this.namespace(pod), command, ...args] };
  }

  // Taking the host end down leaves the pod's own eth0 up (no carrier), so
  // processes inside the pod still reach each other, as on a cut-off node.
  partition(pod: number): void {
    ip("link", "set", this.hostEnd(pod), "down");
  }

  heal(pod: number): void {
    ip("link", "set", this.hostEnd(pod), "up");
  }
}

/** Distinct sites, so `npm start` and a drill (or its tests) can run side by side. */
export const SITES = {
  local: { prefix: "rdr", subnet: "10.231.0", loopback: "127.0.1" },
  // Prefixes never start with another's `<prefix>-`: a site removes the namespaces under its own.
  drill: { prefix: "rdrp", subnet: "10.231.1", loopback: "127.0.3" },
} as const;

/** Namespaces where the machine allows them, loopback addresses otherwise. */
export function podNetwork(pods: number, site: keyof typeof SITES, preferLoopback = false): PodNetwork {
  const { prefix, subnet, loopback } = SITES[site];
  return !preferLoopback && NamespaceNetwork.available() ? new NamespaceNetwork(pods, prefix, subnet) : new LoopbackNetwork(pods, loopback);
}
