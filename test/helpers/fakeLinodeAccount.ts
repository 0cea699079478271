/**
 * A Linode account in memory: the NodeBalancers, Cloud Firewalls (with their devices) and
 * reserved IPv4s that `pulumi up` and the Cloud Controller Manager both act on. Each call
 * names its caller, and a caller with a restricted token gets 403 on NodeBalancers and
 * firewalls it did not create: the behaviour LKE's managed CCM shows in
 * linode/linode-cloud-controller-manager #359 and #392.
 */

export type Caller = "pulumi" | "ccm";

export interface FirewallRule {
  label: string;
  action: "ACCEPT" | "DROP";
  protocol: string;
  ports: string;
  ipv4: string[];
  ipv6: string[];
}

export interface Firewall {
  id: number;
  label: string;
  tags: string[];
  inboundPolicy: string;
  outboundPolicy: string;
  inbound: FirewallRule[];
  /** Attached entities (firewall devices). */
  devices: Array<{ id: number; type: "nodebalancer" | "linode"; entityId: number }>;
  createdBy: Caller;
}

export interface NodeBalancerConfig {
  id: number;
  port: number;
  protocol: string;
  /** With protocol https: the kubernetes.io/tls Secret the CCM took the certificate from. */
  tlsSecretName?: string;
  check: string;
  checkPath: string;
  checkInterval: number;
  checkTimeout: number;
  checkAttempts: number;
  checkPassive: boolean;
  nodes: string[];
}

export interface NodeBalancer {
  id: number;
  label: string;
  region: string;
  ipv4: string;
  hostname: string;
  tags: string[];
  clientConnThrottle: number;
  configs: NodeBalancerConfig[];
  createdBy: Caller;
}

export class LinodeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`[${status}] ${message}`);
  }
}

export interface AccountOptions {
  /** The account's default firewall for new NodeBalancers (attached when a create names none). */
  defaultNodeBalancerFirewall?: boolean;
  /** Callers whose token reaches only what they created. */
  restricted?: Caller[];
}

export class FakeLinodeAccount {
  readonly nodeBalancers = new Map<number, NodeBalancer>();
  readonly firewalls = new Map<number, Firewall>();
  /** Reserved IPv4s, and the NodeBalancer each is assigned to. */
  readonly reservedIps = new Map<string, { region: string; assignedTo?: number }>();
  readonly defaultFirewallId?: number;
  private nextId = 1000;
  private nextIp = 20;

  constructor(readonly options: AccountOptions = {}) {
    if (options.defaultNodeBalancerFirewall) {
      this.defaultFirewallId = this.createFirewall("pulumi", { label: "account-default-nb", tags: [], inboundPolicy: "ACCEPT", outboundPolicy: "ACCEPT", inbound: [] }).id;
    }
  }

  private newId(): number {
    return this.nextId++;
  }

  private authorize(caller: Caller, owner: Caller): void {
    if (this.options.restricted?.includes(caller) && owner !== caller) throw new LinodeApiError(403, "Unauthorized");
  }

  getNodeBalancer(caller: Caller, id: number): NodeBalancer {
    const nb = this.nodeBalancers.get(id);
    if (!nb) throw new LinodeApiError(404, "Not found");
    this.authorize(caller, nb.createdBy);
    return nb;
  }

  getFirewall(caller: Caller, id: number): Firewall {
    const fw = this.firewalls.get(id);
    if (!fw) throw new LinodeApiError(404, "Not found");
    this.authorize(caller, fw.createdBy);
    return fw;
  }

  reserveIpv4(region: string, address?: string): string {
    const ip = address ?? `192.0.2.${this.nextIp++}`;
    this.reservedIps.set(ip, { region });
    return ip;
  }

  createFirewall(caller: Caller, spec: Omit<Firewall, "id" | "devices" | "createdBy">, id = this.newId()): Firewall {
    const fw: Firewall = { ...spec, id, devices: [], createdBy: caller };
    this.firewalls.set(id, fw);
    return fw;
  }

  createNodeBalancer(
    caller: Caller,
    spec: { label: string; region: string; tags: string[]; clientConnThrottle: number; firewallId?: number; ipv4?: string },
    id = this.newId(),
  ): NodeBalancer {
    if (spec.firewallId !== undefined) this.getFirewall(caller, spec.firewallId);
    let ipv4 = `198.51.100.${id % 250}`;
    if (spec.ipv4 !== undefined) {
      const reserved = this.reservedIps.get(spec.ipv4);
      if (!reserved) throw new LinodeApiError(400, `${spec.ipv4} is not a reserved IPv4 on this account`);
      if (reserved.assignedTo !== undefined) throw new LinodeApiError(400, `${spec.ipv4} is already assigned to NodeBalancer ${reserved.assignedTo}`);
      if (reserved.region !== spec.region) throw new LinodeApiError(400, `${spec.ipv4} is reserved in ${reserved.region}, not ${spec.region}`);
      reserved.assignedTo = id;
      ipv4 = spec.ipv4;
    }
    const nb: NodeBalancer = {
      id,
      label: spec.label,
      region: spec.region,
      ipv4,
      hostname: `${ipv4.replace(/\./g, "-")}.ip.linodeusercontent.com`,
      tags: [...spec.tags],
      clientConnThrottle: spec.clientConnThrottle,
      configs: [],
      createdBy: caller,
    };
    this.nodeBalancers.set(id, nb);
    const firewallId = spec.firewallId ?? this.defaultFirewallId;
    if (firewallId !== undefined) this.attach(caller, firewallId, id);
    return nb;
  }

  deleteNodeBalancer(caller: Caller, id: number): void {
    this.getNodeBalancer(caller, id);
    this.nodeBalancers.delete(id);
    for (const fw of this.firewalls.values()) fw.devices = fw.devices.filter((d) => !(d.type === "nodebalancer" && d.entityId === id));
    for (const reserved of this.reservedIps.values()) if (reserved.assignedTo === id) delete reserved.assignedTo;
  }

  /** Firewalls attached to a NodeBalancer (GET /nodebalancers/{id}/firewalls). */
  nodeBalancerFirewalls(caller: Caller, nodeBalancerId: number): Firewall[] {
    this.getNodeBalancer(caller, nodeBalancerId);
    return [...this.firewalls.values()].filter((fw) => fw.devices.some((d) => d.type === "nodebalancer" && d.entityId === nodeBalancerId));
  }

  attach(caller: Caller, firewallId: number, nodeBalancerId: number): void {
    const fw = this.getFirewall(caller, firewallId);
    if (!fw.devices.some((d) => d.type === "nodebalancer" && d.entityId === nodeBalancerId)) {
      fw.devices.push({ id: this.newId(), type: "nodebalancer", entityId: nodeBalancerId });
    }
  }

  detach(caller: Caller, firewallId: number, nodeBalancerId: number): void {
    const fw = this.getFirewall(caller, firewallId);
    fw.devices = fw.devices.filter((d) => !(d.type === "nodebalancer" && d.entityId === nodeBalancerId));
  }

  deleteFirewall(caller: Caller, firewallId: number): void {
    this.getFirewall(caller, firewallId);
    this.firewalls.delete(firewallId);
  }

  deleteReservedIp(address: string): void {
    this.reservedIps.delete(address);
  }
}
