import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * Linode's cloud-firewall-controller (linode/cloud-firewall-controller), pinned by chart
 * version. It runs in the cluster with LKE's own API token (the `linode` Secret in kube-system),
 * creates a Cloud Firewall labelled `lke-<cluster id>` and attaches every node to it, including
 * nodes added later by recycling, autoscaling or pool replacement: @pulumi/linode 5.1.1 has no
 * node-pool firewall, and a firewall attached to today's node ids would miss tomorrow's.
 */
export const CLOUD_FIREWALL_CHARTS = {
  repo: "https://linode.github.io/cloud-firewall-controller",
  crd: { chart: "cloud-firewall-crd", version: "0.2.0" },
  controller: { chart: "cloud-firewall-controller", version: "0.2.1" },
} as const;

/**
 * The controller's default inbound rules (internal/rules/defaults.go at v0.2.x), with inbound
 * policy DROP: what LKE needs from 192.168.128.0/17 (kubelet 10250 and 10256, Calico BGP 179 and
 * Typha 5473, cluster DNS 53 TCP/UDP, WireGuard 51820/UDP, IP-in-IP), ICMP, and NodePorts
 * 30000-32767 only from the NodeBalancer backend range 192.168.255.0/24. Listed here so the
 * README and the tests state what the nodes admit; the controller applies them.
 */
export const NODE_FIREWALL_DEFAULT_RULES = [
  { protocol: "ICMP", ports: "", sources: ["0.0.0.0/0", "::/0"] },
  { protocol: "TCP", ports: "10250,10256", sources: ["192.168.128.0/17"] },
  { protocol: "UDP", ports: "51820", sources: ["192.168.128.0/17"] },
  { protocol: "TCP", ports: "53", sources: ["192.168.128.0/17"] },
  { protocol: "UDP", ports: "53", sources: ["192.168.128.0/17"] },
  { protocol: "TCP", ports: "179", sources: ["192.168.128.0/17"] },
  { protocol: "TCP", ports: "5473", sources: ["192.168.128.0/17"] },
  { protocol: "TCP", ports: "30000-32767", sources: ["192.168.255.0/24"] },
  { protocol: "UDP", ports: "30000-32767", sources: ["192.168.255.0/24"] },
  { protocol: "IPENCAP", ports: "", sources: ["192.168.128.0/17"] },
] as const;

const NAMESPACE = "kube-system";

/**
 * An inbound-DROP Cloud Firewall on every LKE node, so NodePorts and the kubelet are not
 * reachable from the internet. Limits (docs/linode.md, "The node firewall"): a new node is open until the
 * controller's next reconcile (seconds); the firewall is the controller's, not in Pulumi state.
 */
export class NodeFirewall extends pulumi.ComponentResource {
  constructor(name: string, _args: Record<string, never>, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:infra:NodeFirewall", name, {}, opts);
    const child = { parent: this };
    const repositoryOpts = { repo: CLOUD_FIREWALL_CHARTS.repo };

    const crd = new k8s.helm.v3.Release(
      "cloud-firewall-crd",
      { chart: CLOUD_FIREWALL_CHARTS.crd.chart, version: CLOUD_FIREWALL_CHARTS.crd.version, repositoryOpts, namespace: NAMESPACE, atomic: true },
      child,
    );
    const controller = new k8s.helm.v3.Release(
      "cloud-firewall-controller",
      {
        chart: CLOUD_FIREWALL_CHARTS.controller.chart,
        version: CLOUD_FIREWALL_CHARTS.controller.version,
        repositoryOpts,
        namespace: NAMESPACE,
        atomic: true,
        // The CloudFirewall object below is Pulumi's, not the chart's.
        values: { firewall: {} },
      },
      { ...child, dependsOn: [crd] },
    );
    new k8s.apiextensions.CustomResource(
      "primary",
      {
        apiVersion: "networking.linode.com/alpha1v1",
        kind: "CloudFirewall",
        metadata: { name: "primary", namespace: NAMESPACE },
        spec: { defaultRules: true, ruleset: { inbound: [], inbound_policy: "DROP", outbound: [], outbound_policy: "ACCEPT" } },
      },
      { ...child, dependsOn: [crd, controller] },
    );
    this.registerOutputs({});
  }
}
