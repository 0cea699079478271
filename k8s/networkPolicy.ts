import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

// Every tier's NetworkPolicy and the egress rules they share. A pod that a policy of a direction
// selects may open (or accept) only the connections some rule admits; replies always pass. LKE's
// CNI is Calico, which enforces both directions (develeap.com/?p=7247 on LKE's Calico).
export type EgressRule = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
export type IngressRule = k8s.types.input.networking.v1.NetworkPolicyIngressRule;

export interface IsolationArgs {
  namespace: pulumi.Input<string>;
  labels: Record<string, string>;
  /** The pods isolated. */
  selector: Record<string, string>;
  /** What may connect to them (none: nothing) and what they may connect to. */
  ingress: IngressRule[];
  egress: EgressRule[];
}

/** A NetworkPolicy that isolates the selected pods in both directions: only the rules given pass. */
export function isolatingPolicy(name: string, args: IsolationArgs, opts: pulumi.CustomResourceOptions): k8s.networking.v1.NetworkPolicy {
  return new k8s.networking.v1.NetworkPolicy(
    name,
    {
      metadata: { name, namespace: args.namespace, labels: args.labels },
      spec: { podSelector: { matchLabels: args.selector }, policyTypes: ["Ingress", "Egress"], ingress: args.ingress, egress: args.egress },
    },
    opts,
  );
}

/** Namespace of the cluster's DNS (CoreDNS on LKE). */
export const CLUSTER_DNS_NAMESPACE = "kube-system";
export const DNS_PORT = 53;

/**
 * IPv4 ranges no object store or other public endpoint lives in: RFC 1918 (the cluster's pods,
 * Services and nodes' private addresses), loopback, CGNAT and link-local, which holds Linode's
 * metadata service (169.254.169.254) and so the node's instance data.
 */
export const NON_PUBLIC_IPV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"] as const;

const tcp = (port: pulumi.Input<number>) => ({ protocol: "TCP", port });

/** Name lookups: UDP and TCP 53 to the DNS namespace (CoreDNS's labels differ between distributions, its namespace does not). */
export function dnsEgress(): EgressRule {
  return {
    to: [{ namespaceSelector: { matchLabels: namespaceLabel(CLUSTER_DNS_NAMESPACE) } }],
    ports: [
      { protocol: "UDP", port: DNS_PORT },
      { protocol: "TCP", port: DNS_PORT },
    ],
  };
}

/** TCP to the pods SELECTOR matches in the policy's own namespace. */
export function podEgress(selector: Record<string, string>, ports: number[]): EgressRule {
  return { to: [{ podSelector: { matchLabels: selector } }], ports: ports.map(tcp) };
}

/** TCP to any pod of NAMESPACE (a Pushgateway in the monitoring namespace). */
export function namespaceEgress(namespace: string, port: number): EgressRule {
  return { to: [{ namespaceSelector: { matchLabels: namespaceLabel(namespace) } }], ports: [tcp(port)] };
}

/** TCP to public IPv4 addresses on PORT: an object store outside the cluster, whose addresses are not ours to pin. */
export function publicEgress(port: pulumi.Input<number>): EgressRule {
  return { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: [...NON_PUBLIC_IPV4] } }], ports: [tcp(port)] };
}

/** TCP to the public IPv4 addresses of an http(s) ENDPOINT (the object store), on its port. */
export function endpointEgress(endpoint: pulumi.Input<string>): EgressRule {
  return publicEgress(pulumi.output(endpoint).apply(endpointPort));
}

/** The TCP port an http(s) endpoint URL is served on. */
export function endpointPort(endpoint: string): number {
  const url = new URL(endpoint);
  if (url.port) return Number(url.port);
  if (url.protocol === "https:") return 443;
  if (url.protocol === "http:") return 80;
  throw new Error(`${endpoint} is not an http(s) URL`);
}

/** The label the API server sets on every namespace (Kubernetes 1.22+). */
export function namespaceLabel(namespace: string): Record<string, string> {
  return { "kubernetes.io/metadata.name": namespace };
}

/**
 * TCP to a service given as host:port: a cluster Service's name (NAME.NAMESPACE.svc, optionally
 * .cluster.local) admits any pod of its namespace; any other host is outside, so public addresses.
 */
export function hostPortEgress(hostPort: string): EgressRule {
  const [host = "", port = ""] = hostPort.split(":");
  const inCluster = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc(\.cluster\.local)?$/.exec(host);
  return inCluster ? namespaceEgress(inCluster[1]!, Number(port)) : publicEgress(Number(port));
}
