import * as k8s from "@pulumi/kubernetes";
import * as linode from "@pulumi/linode";
import * as pulumi from "@pulumi/pulumi";

export interface NodePoolArgs {
  /** Linode plan of every node, e.g. g6-standard-2. */
  type: string;
  /** Nodes at creation; the autoscaler owns the count afterwards when it is set. */
  count: number;
  autoscaler?: { min: number; max: number };
}

export interface ClusterArgs {
  label: string;
  region: string;
  /** LKE Kubernetes minor version, e.g. 1.35. */
  k8sVersion: string;
  tags: string[];
  pool: NodePoolArgs;
  haControlPlane: boolean;
  /**
   * Source ranges the Kubernetes API admits. The control-plane ACL is always enabled, so
   * anything not listed is denied (LKE control plane ACL; @pulumi/linode 5.1.1 `controlPlane.acl`).
   */
  apiAllowedCidrs: string[];
}

/** The LKE cluster, its kubeconfig (a secret) and a Kubernetes provider for it. */
export class Cluster extends pulumi.ComponentResource {
  readonly cluster: linode.LkeCluster;
  readonly kubeconfig: pulumi.Output<string>;
  readonly provider: k8s.Provider;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:infra:Cluster", name, {}, opts);
    const child = { parent: this };
    const { pool } = args;

    this.cluster = new linode.LkeCluster(
      "cluster",
      {
        label: args.label,
        region: args.region,
        k8sVersion: args.k8sVersion,
        tags: args.tags,
        controlPlane: {
          highAvailability: args.haControlPlane,
          acl: {
            enabled: true,
            addresses: [
              {
                ipv4s: args.apiAllowedCidrs.filter((c) => !c.includes(":")),
                ipv6s: args.apiAllowedCidrs.filter((c) => c.includes(":")),
              },
            ],
          },
        },
        pools: [{ type: pool.type, count: pool.count, tags: args.tags, ...(pool.autoscaler ? { autoscaler: pool.autoscaler } : {}) }],
      },
      // The autoscaler owns the count once enabled. Protected: the cluster carries every
      // volume's attachment and the only kubeconfig; a change that would replace it fails.
      { ...child, protect: true, ignoreChanges: pool.autoscaler ? ["pools[0].count"] : [] },
    );

    this.kubeconfig = pulumi.secret(this.cluster.kubeconfig.apply(decodeKubeconfig));
    this.provider = new k8s.Provider(
      "lke",
      { kubeconfig: this.kubeconfig, deleteUnreachable: false, enableServerSideApply: true },
      child,
    );
    this.registerOutputs({ clusterId: this.cluster.id });
  }
}

/** Decode LKE's base64 kubeconfig into the YAML a Kubernetes provider takes. */
export function decodeKubeconfig(encoded: string): string {
  return Buffer.from(encoded, "base64").toString("utf8");
}

/** The pool's autoscaler from optional bounds: set both to enable it. */
export function poolAutoscaler(min: number | undefined, max: number | undefined): { min: number; max: number } | undefined {
  return min !== undefined && max !== undefined ? { min, max } : undefined;
}
