import { spawnSync } from "child_process";

function ip(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")}: ${(result.stderr || result.error?.message || "").trim()}`);
}
const ipQuiet = (...args: string[]) => spawnSync("ip", args, { stdio: "ignore" }).status === 0;

/** The one module that makes and removes network namespaces (ip-netns(8)): the local runtime's pod networks. */

/** Whether this machine lets us build a pod network: a namespace, a bridge and a veth into it. */
export function namespacesAvailable(): boolean {
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

/** The network namespaces whose names start with `${prefix}-` (a site's pods). */
export function namespacesOf(prefix: string): string[] {
  const listed = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  return listed
    .split("\n")
    .map((line) => line.split(" ")[0]!)
    .filter((name) => name.startsWith(`${prefix}-`));
}

/** The processes running in a network namespace (ip-netns(8) `pids`: same /proc/PID/ns/net). */
export function processesIn(namespace: string): number[] {
  const out = spawnSync("ip", ["netns", "pids", namespace], { encoding: "utf8" }).stdout ?? "";
  return out.split(/\s+/).filter(Boolean).map(Number);
}

/** Delete a namespace, killing what still runs in it first: a deleted namespace lives on while a process holds it. */
function deleteNamespace(namespace: string): void {
  for (const pid of processesIn(namespace)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* exited meanwhile */
    }
  }
  ipQuiet("netns", "delete", namespace);
}

interface Attached {
  namespace: string;
  hostEnd: string;
  ip: string;
}

/**
 * The pod network of the local cluster: a bridge in the host namespace (the node, where the
 * kubelet probes from and the harness runs, at `${subnet}.1`) and one network namespace per
 * pod with a veth onto it. Every pod that is created gets an address never given before in
 * this run, so a pod recreated under the same name comes back with a new IP, as a
 * StatefulSet pod rescheduled onto another node does.
 */
export class PodBridge {
  readonly hostAddress: string;
  private readonly bridge: string;
  private readonly pods = new Map<string, Attached>();
  private nextHost = 10;
  private nextLink = 0;

  constructor(
    /** Short (at most 6 characters): names of links and namespaces start with it. */
    private readonly prefix: string,
    /** A /24 of the form a.b.c, unused on this machine. */
    private readonly subnet: string,
  ) {
    if (prefix.length > 6) throw new Error(`bridge prefix "${prefix}" is longer than 6 characters (link names are limited to 15)`);
    this.hostAddress = `${subnet}.1`;
    this.bridge = `${prefix}-br`;
  }

  setUp(): void {
    this.removeLeftovers();
    ip("link", "add", this.bridge, "type", "bridge");
    ip("addr", "add", `${this.hostAddress}/24`, "dev", this.bridge);
    ip("link", "set", this.bridge, "up");
  }

  namespaceOf(pod: string): string {
    return `${this.prefix}-${pod}`;
  }

  /** Create the pod's namespace and link; returns its (new) address. */
  addPod(pod: string): { namespace: string; ip: string } {
    if (this.pods.has(pod)) throw new Error(`pod ${pod} is already on the network`);
    if (this.nextHost > 254) throw new Error(`the local pod network ${this.subnet}.0/24 has no address left`);
    const attached = { namespace: this.namespaceOf(pod), hostEnd: `${this.prefix}v${this.nextLink++}`, ip: `${this.subnet}.${this.nextHost++}` };
    deleteNamespace(attached.namespace);
    ip("netns", "add", attached.namespace);
    ip("link", "add", attached.hostEnd, "type", "veth", "peer", "name", "eth0", "netns", attached.namespace);
    ip("link", "set", attached.hostEnd, "master", this.bridge, "up");
    ip("-n", attached.namespace, "addr", "add", `${attached.ip}/24`, "dev", "eth0");
    ip("-n", attached.namespace, "link", "set", "eth0", "up");
    ip("-n", attached.namespace, "link", "set", "lo", "up");
    // As a pod's is, its default route is the node: every address of this machine (another
    // pod network's node address, where a second topology's object store listens) is reachable.
    ip("-n", attached.namespace, "route", "add", "default", "via", this.hostAddress);
    this.pods.set(pod, attached);
    return { namespace: attached.namespace, ip: attached.ip };
  }

  removePod(pod: string): void {
    const attached = this.pods.get(pod);
    if (!attached) return;
    ipQuiet("link", "delete", attached.hostEnd);
    deleteNamespace(attached.namespace);
    this.pods.delete(pod);
  }

  ipOf(pod: string): string | undefined {
    return this.pods.get(pod)?.ip;
  }

  wrap(pod: string, command: string, args: string[]): { command: string; args: string[] } {
    return { command: "ip", args: ["netns", "exec", this.namespaceOf(pod), command, ...args] };
  }

  /** Cut the pod's link (its own eth0 stays up, without carrier), as a failed node link would. */
  partition(pod: string): void {
    ip("link", "set", this.attached(pod).hostEnd, "down");
  }

  heal(pod: string): void {
    ip("link", "set", this.attached(pod).hostEnd, "up");
  }

  tearDown(): void {
    for (const pod of [...this.pods.keys()]) this.removePod(pod);
    this.removeLeftovers();
  }

  private attached(pod: string): Attached {
    const attached = this.pods.get(pod);
    if (!attached) throw new Error(`pod ${pod} is not on the network`);
    return attached;
  }

  /**
   * Namespaces and links of this prefix left by a run that did not stop cleanly, and any
   * process still in them (stopLeftoverContainers stops them gracefully first, where a run
   * starts on data they may still write).
   */
  private removeLeftovers(): void {
    for (const name of namespacesOf(this.prefix)) deleteNamespace(name);
    const links = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout ?? "";
    for (const match of links.matchAll(new RegExp(`^\\d+: (${this.prefix}v\\d+)[@:]`, "gm"))) ipQuiet("link", "delete", match[1]!);
    ipQuiet("link", "delete", this.bridge);
  }
}
