/**
 * What Linode's Cloud Controller Manager does with a Service of type LoadBalancer, as its
 * source documents it (linode/linode-cloud-controller-manager at b9aa901, August 2026):
 *  - cloud/linode/loadbalancers.go: EnsureLoadBalancer, updateNodeBalancer, createNodeBalancer,
 *    buildNodeBalancerConfig, GetLoadBalancerTags, getConnectionThrottle,
 *    EnsureLoadBalancerDeleted, shouldPreserveNodeBalancer, shouldRetainReservedIP;
 *  - cloud/linode/services/firewalls.go: UpdateNodeBalancerFirewall, updateServiceFirewall,
 *    updateNodeBalancerFirewallWithACL, DeleteNodeBalancerFirewall, CreateFirewallOptsForSvc.
 * It acts on a FakeLinodeAccount as caller "ccm", so a restricted token meets the 403s that
 * CCM #359 and #392 report. Only the branches this program can reach are modelled.
 */
import { CCM_ANNOTATIONS } from "../../infra/ccmAnnotations";
import { FakeLinodeAccount, Firewall, LinodeApiError, NodeBalancer, NodeBalancerConfig } from "./fakeLinodeAccount";

export interface ServiceObject {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: { type: string; ports: Array<{ port: number; protocol?: string; nodePort?: number }> };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

export interface ClusterNode {
  name: string;
  privateIp: string;
}

/** firewalls.go: ErrTooManyNBFirewalls. */
export const TOO_MANY_FIREWALLS = "too many firewalls attached to a nodebalancer";

const annotation = (svc: ServiceObject, key: string) => svc.metadata.annotations?.[key];
const boolAnnotation = (svc: ServiceObject, key: string) => {
  const value = annotation(svc, key);
  return value === undefined ? undefined : value === "true";
};

export class CcmEmulator {
  private labelSeq = 0;

  constructor(
    readonly account: FakeLinodeAccount,
    /** The CCM's --cluster-name: the first tag on every NodeBalancer it syncs. */
    readonly clusterName: string,
    readonly nodes: ClusterNode[],
  ) {}

  /** EnsureLoadBalancer: returns the Service's new status, or throws what the CCM logs. */
  ensure(svc: ServiceObject): { ingress: Array<{ ip: string; hostname: string }> } {
    let nb = this.find(svc);
    if (nb) {
      this.update(svc, nb);
    } else {
      if (annotation(svc, CCM_ANNOTATIONS.nodeBalancerId)) throw new Error("NodeBalancer created but not available yet, waiting...");
      nb = this.create(svc);
      this.rebuildConfigs(svc, nb);
    }
    const status = { ingress: [{ ip: nb.ipv4, hostname: nb.hostname }] };
    svc.status = { loadBalancer: status };
    return status;
  }

  /** EnsureLoadBalancerDeleted. */
  delete(svc: ServiceObject): void {
    if (!svc.status?.loadBalancer?.ingress?.length) return;
    const nb = this.find(svc);
    if (!nb) return;
    if (boolAnnotation(svc, CCM_ANNOTATIONS.preserve) === true) return;
    if (annotation(svc, CCM_ANNOTATIONS.firewallAcl) !== undefined) {
      const attached = this.account.nodeBalancerFirewalls("ccm", nb.id);
      if (attached.length > 1) throw new Error(TOO_MANY_FIREWALLS);
      const [fw] = attached;
      if (fw && fw.devices.length <= 1) this.account.deleteFirewall("ccm", fw.id);
    }
    if (boolAnnotation(svc, CCM_ANNOTATIONS.retainReservedIpv4) === false) this.account.deleteReservedIp(nb.ipv4);
    this.account.deleteNodeBalancer("ccm", nb.id);
  }

  /** getNodeBalancerForService: by the id annotation, else by the IP in the Service's status. */
  private find(svc: ServiceObject): NodeBalancer | undefined {
    const id = Number(annotation(svc, CCM_ANNOTATIONS.nodeBalancerId));
    try {
      if (Number.isInteger(id) && id !== 0) return this.account.getNodeBalancer("ccm", id);
      const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip;
      const found = [...this.account.nodeBalancers.values()].find((n) => ip !== undefined && n.ipv4 === ip);
      return found ? this.account.getNodeBalancer("ccm", found.id) : undefined;
    } catch (error) {
      if (error instanceof LinodeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  private tags(svc: ServiceObject): string[] {
    const extra = annotation(svc, CCM_ANNOTATIONS.tags);
    return [this.clusterName, ...(extra !== undefined ? extra.split(",") : [])];
  }

  private throttle(svc: ServiceObject): number {
    const parsed = Number.parseInt(annotation(svc, CCM_ANNOTATIONS.throttle) ?? "", 10);
    return Number.isNaN(parsed) ? 0 : Math.min(20, Math.max(0, parsed));
  }

  private create(svc: ServiceObject): NodeBalancer {
    const label = `ccm-${(++this.labelSeq).toString(16).padStart(12, "0")}`;
    const tags = this.tags(svc);
    const reserved = annotation(svc, CCM_ANNOTATIONS.reservedIpv4);
    let firewallId: number | undefined;
    const fwId = annotation(svc, CCM_ANNOTATIONS.firewallId);
    if (fwId !== undefined) {
      firewallId = Number(fwId);
    } else if (annotation(svc, CCM_ANNOTATIONS.firewallAcl) !== undefined) {
      firewallId = this.account.createFirewall("ccm", { label, tags, ...this.aclRules(svc) }).id;
    }
    return this.account.createNodeBalancer("ccm", {
      label,
      region: "us-ord",
      tags,
      clientConnThrottle: this.throttle(svc),
      ...(firewallId !== undefined ? { firewallId } : {}),
      ...(reserved !== undefined ? { ipv4: reserved } : {}),
    });
  }

  private update(svc: ServiceObject, nb: NodeBalancer): void {
    if (this.nodes.length === 0) throw new Error("no nodes available");
    nb.clientConnThrottle = this.throttle(svc);
    const tags = this.tags(svc);
    if (JSON.stringify(nb.tags) !== JSON.stringify(tags)) nb.tags = tags;
    this.reconcileFirewall(svc, nb);
    this.rebuildConfigs(svc, nb);
  }

  /** firewalls.go, UpdateNodeBalancerFirewall. */
  private reconcileFirewall(svc: ServiceObject, nb: NodeBalancer): void {
    const attached = this.account.nodeBalancerFirewalls("ccm", nb.id);
    if (attached.length > 1) throw new Error(TOO_MANY_FIREWALLS);
    const existing = attached[0];
    const fwId = annotation(svc, CCM_ANNOTATIONS.firewallId);
    if (fwId !== undefined) {
      const wanted = Number(fwId);
      if (existing?.id !== wanted) {
        this.account.attach("ccm", wanted, nb.id);
        if (existing) this.account.detach("ccm", existing.id, nb.id);
      }
      return;
    }
    if (annotation(svc, CCM_ANNOTATIONS.firewallAcl) !== undefined) {
      if (!existing) {
        const fw = this.account.createFirewall("ccm", { label: nb.label, tags: nb.tags, ...this.aclRules(svc) });
        this.account.attach("ccm", fw.id, nb.id);
      } else {
        Object.assign(this.account.getFirewall("ccm", existing.id), this.aclRules(svc));
      }
      return;
    }
    // Neither annotation: detach whatever is attached, and delete it when nothing else uses it.
    if (!existing) return;
    this.account.detach("ccm", existing.id, nb.id);
    if (this.account.getFirewall("ccm", existing.id).devices.length === 0) this.account.deleteFirewall("ccm", existing.id);
  }

  /** CreateFirewallOptsForSvc: one rule for the Service's ports from the allow list, inbound DROP. */
  private aclRules(svc: ServiceObject): Pick<Firewall, "inbound" | "inboundPolicy" | "outboundPolicy"> {
    const acl = JSON.parse(annotation(svc, CCM_ANNOTATIONS.firewallAcl) ?? "{}") as { allowList?: { ipv4?: string[]; ipv6?: string[] }; denyList?: unknown };
    if (!acl.allowList || acl.denyList) throw new Error("specify either an allowList or a denyList for a firewall");
    return {
      inboundPolicy: "DROP",
      outboundPolicy: "ACCEPT",
      inbound: [
        {
          label: `ACCEPT-${svc.metadata.name}`.slice(0, 32),
          action: "ACCEPT",
          protocol: "TCP",
          ports: svc.spec.ports.map((p) => String(p.port)).join(","),
          ipv4: acl.allowList.ipv4 ?? [],
          ipv6: acl.allowList.ipv6 ?? [],
        },
      ],
    };
  }

  /** deleteUnusedConfigs + buildNodeBalancerConfig + the rebuild with every node's private IP. */
  private rebuildConfigs(svc: ServiceObject, nb: NodeBalancer): void {
    const ann = (key: string, fallback: number) => {
      const value = annotation(svc, key);
      if (value === undefined) return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed)) throw new Error(`invalid ${key}: ${value}`);
      return parsed;
    };
    const ports = svc.spec.ports;
    nb.configs = ports.map((port, i): NodeBalancerConfig => {
      const check = annotation(svc, CCM_ANNOTATIONS.checkType) ?? "connection";
      const nodePort = port.nodePort ?? 30000 + i;
      // loadbalancers.go getPortConfig: the port-<n> JSON overrides the default protocol; https
      // needs its tls-secret-name (getTLSCertInfo errors without one).
      const portConfig = JSON.parse(annotation(svc, `${CCM_ANNOTATIONS.portPrefix}${port.port}`) ?? "{}") as { protocol?: string; "tls-secret-name"?: string };
      const protocol = portConfig.protocol ?? annotation(svc, CCM_ANNOTATIONS.protocol) ?? "tcp";
      if (protocol === "https" && !portConfig["tls-secret-name"]) throw new Error(`TLS secret name for port ${port.port} is not specified`);
      return {
        id: nb.configs.find((c) => c.port === port.port)?.id ?? nb.id * 10 + i,
        port: port.port,
        protocol,
        ...(protocol === "https" ? { tlsSecretName: portConfig["tls-secret-name"]! } : {}),
        check,
        checkPath: check === "http" || check === "http_body" ? (annotation(svc, CCM_ANNOTATIONS.checkPath) ?? "/") : "",
        checkInterval: ann(CCM_ANNOTATIONS.checkInterval, 5),
        checkTimeout: ann(CCM_ANNOTATIONS.checkTimeout, 3),
        checkAttempts: ann(CCM_ANNOTATIONS.checkAttempts, 2),
        checkPassive: boolAnnotation(svc, CCM_ANNOTATIONS.checkPassive) ?? true,
        nodes: this.nodes.map((n) => `${n.privateIp}:${nodePort}`),
      };
    });
  }
}
