import * as linode from "@pulumi/linode";
import * as pulumi from "@pulumi/pulumi";
import { CCM_ANNOTATIONS, firewallAclAnnotation } from "./ccmAnnotations";

export type PublicEntryMode = "pulumi" | "reserved-ip";

export interface PublicEntryArgs {
  /** pulumi: Pulumi owns the NodeBalancer and its firewall; reserved-ip: Pulumi owns only the address. */
  mode: PublicEntryMode;
  region: string;
  /** Labels of the NodeBalancer and firewall Pulumi creates (mode pulumi). */
  labels: { nodeBalancer: string; firewall: string };
  /** Tags on everything created here; the CCM is told to keep them on the NodeBalancer. */
  tags: string[];
  publicPort: number;
  ingressCidrs: string[];
  /** Name of the Linode resources inside (default "app", the service's entry): one per entry. */
  resourceName?: string;
}

/** What the app's LoadBalancer Service needs to bind to this entry, and where it answers. */
export interface LoadBalancerBinding {
  mode: PublicEntryMode;
  annotations: Record<string, pulumi.Input<string>>;
  ipv4: pulumi.Output<string>;
}

/**
 * The NodeBalancer's connection throttle. Pulumi sets it at create and the CCM resets it
 * from the throttle annotation on every sync (default 0), so both must name the same value.
 */
const CONNECTION_THROTTLE = 0;

/**
 * The app's public address on Linode, in one of two ownership modes.
 *
 * pulumi: Pulumi creates the Cloud Firewall, then the NodeBalancer with `firewallId` (so no
 * account-default firewall attaches and only one firewall is ever attached; the CCM errors out
 * with two). The Service adopts the NodeBalancer by id and names the firewall by id, so the CCM
 * keeps it attached and never deletes it; without that annotation the CCM detaches and deletes
 * it on every sync (cloud/linode/services/firewalls.go, UpdateNodeBalancerFirewall).
 *
 * reserved-ip: Pulumi reserves an IPv4 in the region; the CCM creates the NodeBalancer on it
 * (`reserved-ipv4`) with a firewall it creates and owns from `firewall-acl`, so nothing depends
 * on the CCM's token reaching objects it did not create. `retain-reserved-ipv4` keeps the
 * address when the NodeBalancer goes, and `preserve` stays off so a re-created Service gets
 * a new NodeBalancer on the same address (loadbalancers.go, EnsureLoadBalancerDeleted).
 */
export class PublicEntry extends pulumi.ComponentResource {
  readonly binding: LoadBalancerBinding;
  readonly nodeBalancer?: linode.NodeBalancer;
  readonly firewall?: linode.Firewall;
  readonly reservedIp?: linode.NetworkingIp;

  constructor(name: string, args: PublicEntryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:infra:PublicEntry", name, {}, opts);
    const child = { parent: this };
    const resourceName = args.resourceName ?? "app";
    const common = {
      [CCM_ANNOTATIONS.tags]: args.tags.join(","),
      [CCM_ANNOTATIONS.throttle]: String(CONNECTION_THROTTLE),
    };

    if (args.mode === "pulumi") {
      this.firewall = new linode.Firewall(
        resourceName,
        {
          label: args.labels.firewall,
          tags: args.tags,
          inboundPolicy: "DROP",
          outboundPolicy: "ACCEPT",
          inbounds: [
            {
              label: `${resourceName}-public`,
              action: "ACCEPT",
              protocol: "TCP",
              ports: String(args.publicPort),
              ipv4s: args.ingressCidrs.filter((c) => !c.includes(":")),
              ipv6s: args.ingressCidrs.filter((c) => c.includes(":")),
            },
          ],
        },
        // Attachment is the NodeBalancer's firewallId (and the CCM's firewall-id sync), never a
        // device list here: two owners of one attachment would undo each other.
        { ...child, ignoreChanges: ["linodes", "nodebalancers"] },
      );
      this.nodeBalancer = new linode.NodeBalancer(
        resourceName,
        {
          label: args.labels.nodeBalancer,
          region: args.region,
          tags: args.tags,
          clientConnThrottle: CONNECTION_THROTTLE,
          firewallId: this.firewall.id.apply(Number),
        },
        // The CCM rewrites tags to [cluster name, ...tags annotation] on every sync; the cluster
        // name is LKE's, not ours, so tags are the CCM's after creation (loadbalancers.go,
        // GetLoadBalancerTags). Configs and nodes are separate API objects Pulumi never manages.
        { ...child, ignoreChanges: ["tags"] },
      );
      this.binding = {
        mode: args.mode,
        ipv4: this.nodeBalancer.ipv4,
        annotations: {
          ...common,
          [CCM_ANNOTATIONS.nodeBalancerId]: this.nodeBalancer.id,
          [CCM_ANNOTATIONS.firewallId]: this.firewall.id,
          [CCM_ANNOTATIONS.preserve]: "true",
        },
      };
    } else {
      this.reservedIp = new linode.NetworkingIp(
        resourceName,
        { type: "ipv4", public: true, reserved: true, region: args.region },
        // Losing the address breaks every client and DNS record that points at it.
        { ...child, protect: true },
      );
      this.binding = {
        mode: args.mode,
        ipv4: this.reservedIp.address,
        annotations: {
          ...common,
          [CCM_ANNOTATIONS.reservedIpv4]: this.reservedIp.address,
          [CCM_ANNOTATIONS.retainReservedIpv4]: "true",
          [CCM_ANNOTATIONS.preserve]: "false",
          [CCM_ANNOTATIONS.firewallAcl]: firewallAclAnnotation(args.ingressCidrs),
        },
      };
    }
    this.registerOutputs({ ipv4: this.binding.ipv4 });
  }
}
