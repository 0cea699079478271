import * as pulumi from "@pulumi/pulumi";
import { readStackSettings } from "./config/stack";
import { LinodeInfra } from "./infra/linodeInfra";
import { Workloads } from "./k8s/workloads";

// Validate first: a bad config fails here, before any resource is registered.
const { cfg, secrets } = readStackSettings();
const stack = pulumi.getStack();

const infra = new LinodeInfra("linode", { cfg, stack });
const workloads = new Workloads(
  "workloads",
  {
    cfg,
    nodeBalancerId: infra.nodeBalancer.id,
    ...(secrets.redisPassword ? { redisPassword: secrets.redisPassword } : {}),
    ...(secrets.sentinelPassword ? { sentinelPassword: secrets.sentinelPassword } : {}),
  },
  { providers: { kubernetes: infra.provider } },
);

export const clusterId = infra.cluster.id;
export const kubeconfig = infra.kubeconfig;
export const nodeBalancerIpv4 = infra.nodeBalancer.ipv4;
export const nodeBalancerHostname = infra.nodeBalancer.hostname;
export const publicUrl = pulumi.interpolate`http://${infra.nodeBalancer.hostname}${cfg.publicPort === 80 ? "" : `:${cfg.publicPort}`}/`;
export const namespace = workloads.namespace;
export const sentinelService = workloads.sentinelServiceName;
export const appService = workloads.appServiceName;
