import ipaddr from "ipaddr.js";

// Kubernetes NetworkPolicy semantics (kubernetes.io/docs/concepts/services-networking/network-policies,
// networking/v1 types.go): a pod that no policy of a direction selects is open in that direction;
// once one selects it, a connection passes only if some rule of some selecting policy admits it,
// and it must pass the source's egress and the destination's ingress both.

export interface Policy {
  metadata: { namespace: string; name: string };
  spec: {
    podSelector: Selector;
    policyTypes: Array<"Ingress" | "Egress">;
    ingress?: Rule[];
    egress?: Rule[];
  };
}
interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}
interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface Rule {
  to?: Peer[];
  from?: Peer[];
  ports?: Array<{ protocol?: string; port?: number; endPort?: number }>;
}

export interface Pod {
  namespace: string;
  labels: Record<string, string>;
  ip: string;
}
/** An address outside the cluster: no labels, only its IP. */
export interface External {
  ip: string;
}
export interface Connection {
  from: Pod;
  to: Pod | External;
  protocol: "TCP" | "UDP";
  port: number;
}

function selects(selector: Selector, labels: Record<string, string>): boolean {
  if (selector.matchExpressions?.length) throw new Error("matchExpressions are not evaluated here; extend the helper");
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

const namespaceLabels = (namespace: string) => ({ "kubernetes.io/metadata.name": namespace });
const isPod = (end: Pod | External): end is Pod => "namespace" in end;

function inBlock(ip: string, block: { cidr: string; except?: string[] }): boolean {
  const address = ipaddr.parse(ip);
  const within = (cidr: string) => {
    const range = ipaddr.parseCIDR(cidr);
    return address.kind() === range[0].kind() && address.match(range);
  };
  return within(block.cidr) && !(block.except ?? []).some(within);
}

/** Does PEER, written in a policy of POLICY_NAMESPACE, name the other end? */
function peerMatches(peer: Peer, policyNamespace: string, other: Pod | External): boolean {
  if (peer.ipBlock) return inBlock(other.ip, peer.ipBlock);
  if (!isPod(other)) return false;
  const namespaceOk = peer.namespaceSelector ? selects(peer.namespaceSelector, namespaceLabels(other.namespace)) : other.namespace === policyNamespace;
  return namespaceOk && (peer.podSelector ? selects(peer.podSelector, other.labels) : true);
}

function portMatches(rule: Rule, protocol: string, port: number): boolean {
  if (!rule.ports?.length) return true;
  return rule.ports.some((p) => (p.protocol ?? "TCP") === protocol && (p.port === undefined || (p.endPort ? port >= p.port && port <= p.endPort : port === p.port)));
}

function side(policies: Policy[], pod: Pod, direction: "Ingress" | "Egress", other: Pod | External, protocol: string, port: number): boolean {
  const selecting = policies.filter((p) => p.metadata.namespace === pod.namespace && p.spec.policyTypes.includes(direction) && selects(p.spec.podSelector, pod.labels));
  if (selecting.length === 0) return true;
  return selecting.some((policy) =>
    (direction === "Egress" ? policy.spec.egress : policy.spec.ingress)?.some((rule) => {
      const peers = direction === "Egress" ? rule.to : rule.from;
      return portMatches(rule, protocol, port) && (!peers?.length || peers.some((peer) => peerMatches(peer, policy.metadata.namespace, other)));
    }) ?? false,
  );
}

/** Whether the rendered POLICIES let the connection open: the source's egress, then the destination's ingress. */
export function admits(policies: Policy[], c: Connection): boolean {
  if (!side(policies, c.from, "Egress", c.to, c.protocol, c.port)) return false;
  return isPod(c.to) ? side(policies, c.to, "Ingress", c.from, c.protocol, c.port) : true;
}
