import * as k8s from "@pulumi/kubernetes";
import * as linode from "@pulumi/linode";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "../config/schema";

export interface LinodeInfraArgs {
  cfg: StackConfig;
  stack: string;
}

/** Linode labels: 3-32 characters, letters, digits, - and _. */
export function linodeLabel(...parts: string[]): string {
  const label = parts.join("-").replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 32);
  if (label.length < 3) throw new Error(`Linode label "${label}" is shorter than 3 characters`);
  return label;
}

/** Names and tags the program gives its Linode resources; ops/ finds them by these. */
export const linodeNames = (stack: string) => ({
  cluster: linodeLabel("redis-dr", stack),
  nodeBalancer: linodeLabel("redis-dr", stack, "app"),
  firewall: linodeLabel("redis-dr", stack, "app-fw"),
});

export function stackTags(cfg: StackConfig, stack: string): string[] {
  return [...new Set(["redis-dr", `redis-dr-${stack}`, ...cfg.tags])];
}

/** Decode LKE's base64 kubeconfig into the YAML a Kubernetes provider takes. */
export function decodeKubeconfig(encoded: string): string {
  return Buffer.from(encoded, "base64").toString("utf8");
}

/**
 * Everything on Linode: the LKE cluster, the NodeBalancer the app Service adopts,
 * the Cloud Firewall in front of it, and a Kubernetes provider for the cluster.
 */
export class LinodeInfra extends pulumi.ComponentResource {
  readonly cluster: linode.LkeCluster;
  readonly nodeBalancer: linode.NodeBalancer;
  readonly firewall: linode.Firewall;
  readonly provider: k8s.Provider;
  readonly kubeconfig: pulumi.Output<string>;

  constructor(name: string, args: LinodeInfraArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:infra:LinodeInfra", name, {}, opts);
    const { cfg, stack } = args;
    const child = { parent: this };
    const tags = stackTags(cfg, stack);
    const names = linodeNames(stack);
    const autoscaler =
      cfg.autoscalerMin !== undefined && cfg.autoscalerMax !== undefined
        ? { min: cfg.autoscalerMin, max: cfg.autoscalerMax }
        : undefined;

    this.cluster = new linode.LkeCluster(
      "cluster",
      {
        label: names.cluster,
        region: cfg.region,
        k8sVersion: cfg.k8sVersion,
        tags,
        controlPlane: { highAvailability: cfg.haControlPlane },
        pools: [{ type: cfg.nodeType, count: cfg.nodeCount, tags, ...(autoscaler ? { autoscaler } : {}) }],
      },
      // The autoscaler owns the count once enabled.
      { ...child, ignoreChanges: autoscaler ? ["pools[0].count"] : [] },
    );

    this.nodeBalancer = new linode.NodeBalancer(
      "app",
      { label: names.nodeBalancer, region: cfg.region, tags, clientConnThrottle: 0 },
      // The cloud controller manager adds configs and nodes; Pulumi owns only the NodeBalancer itself.
      child,
    );

    this.firewall = new linode.Firewall(
      "app",
      {
        label: names.firewall,
        tags,
        inboundPolicy: "DROP",
        outboundPolicy: "ACCEPT",
        inbounds: [
          {
            label: "app-public",
            action: "ACCEPT",
            protocol: "TCP",
            ports: String(cfg.publicPort),
            ipv4s: cfg.publicIngressCidrs.filter((c) => !c.includes(":")),
            ipv6s: cfg.publicIngressCidrs.filter((c) => c.includes(":")),
          },
        ],
        nodebalancers: [this.nodeBalancer.id.apply((id) => Number(id))],
      },
      child,
    );

    this.kubeconfig = pulumi.secret(this.cluster.kubeconfig.apply(decodeKubeconfig));
    this.provider = new k8s.Provider(
      "lke",
      { kubeconfig: this.kubeconfig, deleteUnreachable: false, enableServerSideApply: true },
      child,
    );

    this.registerOutputs({ clusterId: this.cluster.id, nodeBalancerId: this.nodeBalancer.id });
  }
}
