import { PolicyResource, ReportViolation, ResourceValidation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { parseImage, redisImageVulnerability } from "../config/schema";
import { CCM_ANNOTATIONS } from "../infra/ccmAnnotations";
import { TLS_PASSTHROUGH_ANNOTATION } from "../k8s/labels";
import { tlsPassthroughProven } from "./tlsPassthrough";

// The invariants the program relies on, checked by `pulumi preview --policy-pack policy`
// on what the program would create, whatever the config or a later change to the code.

type Resource = Pick<PolicyResource, "type" | "props" | "urn" | "name" | "opts">;
/** A resource policy with one validation function (the pack's tests call it directly). */
type ResourcePolicy = ResourceValidationPolicy & { validateResource: ResourceValidation };

/** The pod spec a workload runs, or undefined for any other resource. */
function podSpecOf(resource: Resource): any {
  const spec = resource.props?.spec;
  switch (resource.type) {
    case "kubernetes:apps/v1:StatefulSet":
    case "kubernetes:apps/v1:Deployment":
    case "kubernetes:apps/v1:DaemonSet":
    case "kubernetes:batch/v1:Job":
      return spec?.template?.spec;
    case "kubernetes:batch/v1:CronJob":
      return spec?.jobTemplate?.spec?.template?.spec;
    default:
      return undefined;
  }
}

/** The stack a resource belongs to: `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function stackOf(urn: string): string {
  return urn.split(":")[2] ?? "";
}

/** Why an image reference is not pinned to a build we accept, or undefined. */
export function imageProblem(image: string): string | undefined {
  const parsed = parseImage(image);
  if (!parsed || (!parsed.tag && !parsed.digest)) return `"${image}" is not pinned: give it a version tag or a digest`;
  if (parsed.tag === "latest" && !parsed.digest) return `"${image}" is :latest, which names a different build over time`;
  const repository = image.split(/[:@]/)[0]!.replace(/^(docker\.io\/)?(library\/)?/, "");
  return repository === "redis" ? redisImageVulnerability(image) : undefined;
}

const pinnedImages: ResourcePolicy = {
  name: "images-pinned-and-patched",
  description: "Every container image has a version tag or digest, and Redis images are at or above the patched floor of their line.",
  enforcementLevel: "mandatory",
  validateResource: (resource, report) => {
    const pod = podSpecOf(resource);
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      const problem = imageProblem(String(c.image ?? ""));
      if (problem) report(`container ${c.name}: ${problem}`);
    }
  },
};

const restrictedPodSecurity: ResourcePolicy = {
  name: "restricted-pod-security",
  description: "Every namespace enforces the restricted Pod Security Standard.",
  enforcementLevel: "mandatory",
  validateResource: (resource, report) => {
    if (resource.type !== "kubernetes:core/v1:Namespace") return;
    const level = resource.props?.metadata?.labels?.["pod-security.kubernetes.io/enforce"];
    if (level !== "restricted") report(`namespace ${resource.name} enforces ${level ?? "no"} Pod Security Standard, not restricted`);
  },
};

const redisAntiAffinity: ResourcePolicy = {
  name: "redis-pods-on-separate-nodes",
  description: "The Redis StatefulSet requires (not prefers) one pod per node, so one node's loss takes at most one copy of the data.",
  enforcementLevel: "mandatory",
  validateResource: (resource, report) => {
    if (resource.type !== "kubernetes:apps/v1:StatefulSet") return;
    const template = resource.props?.spec?.template;
    const labels: Record<string, string> = template?.metadata?.labels ?? {};
    const terms: any[] = template?.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    const spreads = terms.some(
      (t) => t.topologyKey === "kubernetes.io/hostname" && Object.entries(t.labelSelector?.matchLabels ?? { none: "" }).every(([k, v]) => labels[k] === v),
    );
    if (!spreads) report(`StatefulSet ${resource.name} lacks a required pod anti-affinity on kubernetes.io/hostname that selects its own pods`);
  },
};

const firewalledLoadBalancer: ResourcePolicy = {
  name: "load-balancer-firewalled",
  description: "A LoadBalancer Service names the Cloud Firewall the CCM attaches to its NodeBalancer (firewall-id), or the allow-list it builds one from (firewall-acl).",
  enforcementLevel: "mandatory",
  validateResource: (resource, report) => {
    if (resource.type !== "kubernetes:core/v1:Service" || resource.props?.spec?.type !== "LoadBalancer") return;
    const annotations = resource.props?.metadata?.annotations ?? {};
    if (!annotations[CCM_ANNOTATIONS.firewallId] && !annotations[CCM_ANNOTATIONS.firewallAcl]) {
      report(`Service ${resource.name} would get a NodeBalancer with no firewall: set ${CCM_ANNOTATIONS.firewallId} or ${CCM_ANNOTATIONS.firewallAcl}`);
    }
  },
};

/** What holds data or the only way to reach it: a change that would replace or delete one must fail. */
export const DATA_TYPES = [
  "linode:index/lkeCluster:LkeCluster",
  "linode:index/objectStorageBucket:ObjectStorageBucket",
  "linode:index/reservedIp:ReservedIp",
  "kubernetes:core/v1:Namespace",
  "kubernetes:apps/v1:StatefulSet",
  "kubernetes:core/v1:PersistentVolumeClaim",
];

const dataProtected: ResourcePolicy = {
  name: "data-protected",
  description: "The LKE cluster, the backup bucket, the reserved address, the namespace and the StatefulSet are protected.",
  enforcementLevel: "mandatory",
  validateResource: (resource, report) => {
    if (DATA_TYPES.includes(resource.type) && !resource.opts?.protect) report(`${resource.type} ${resource.name} holds data but is not protected`);
  },
};

export interface HttpsConfig {
  /** Stacks that must serve HTTPS on every public port. */
  prodStacks: string[];
  /** Stacks let off, as the stack config's allowPlainHttp lets the program off. */
  allowPlainHttp: string[];
}

const httpsInProd: ResourcePolicy = {
  name: "https-in-prod",
  description: "In a prod stack every port of a LoadBalancer Service is HTTPS at the NodeBalancer, or TLS passed through to Redis (tls-passthrough-proven checks that).",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      prodStacks: { type: "array", items: { type: "string" }, default: ["prod"] },
      allowPlainHttp: { type: "array", items: { type: "string" }, default: [] },
    },
  },
  validateResource: (resource, report) => {
    if (resource.type !== "kubernetes:core/v1:Service" || resource.props?.spec?.type !== "LoadBalancer") return;
    const config = configOf<HttpsConfig>(resource, { prodStacks: ["prod"], allowPlainHttp: [] });
    const stack = stackOf(resource.urn);
    if (!config.prodStacks.includes(stack) || config.allowPlainHttp.includes(stack)) return;
    const annotations = resource.props?.metadata?.annotations ?? {};
    if (annotations[TLS_PASSTHROUGH_ANNOTATION] === "true") return;
    for (const port of resource.props?.spec?.ports ?? []) {
      const portConfig = annotations[`${CCM_ANNOTATIONS.portPrefix}${port.port}`];
      const protocol = portConfig ? (JSON.parse(portConfig) as { protocol?: string }).protocol : annotations[CCM_ANNOTATIONS.protocol];
      if (protocol !== "https") report(`Service ${resource.name} serves port ${port.port} as ${protocol ?? "tcp"} in stack ${stack}, not https`);
    }
  },
};

/** A policy's config under the engine (getConfig), or the defaults where a test hands none. */
function configOf<T extends object>(resource: unknown, defaults: T): T {
  const getConfig = (resource as { getConfig?: () => Partial<T> }).getConfig;
  return { ...defaults, ...(getConfig ? getConfig() : {}) };
}

/** Every value a Secret holds, decoded, that is long enough to recognise elsewhere. */
function secretValues(resources: Resource[]): string[] {
  const values: string[] = [];
  for (const r of resources.filter((x) => x.type === "kubernetes:core/v1:Secret")) {
    for (const v of Object.values<unknown>(r.props?.stringData ?? {})) values.push(String(v));
    for (const v of Object.values<unknown>(r.props?.data ?? {})) values.push(Buffer.from(String(v), "base64").toString("utf8"));
  }
  return values.flatMap((v) => v.split(/[\s,]+/)).filter((v) => v.length >= 12);
}

const noSecretInConfigMap: StackValidationPolicy = {
  name: "no-secret-in-configmap",
  description: "No ConfigMap holds a value any Secret holds, or a key named like a credential: ConfigMaps are readable by anything that can read the pod's config.",
  enforcementLevel: "mandatory",
  validateStack: (stack, report) => checkConfigMaps(stack.resources, report),
};

export function checkConfigMaps(resources: Resource[], report: ReportViolation): void {
  const secrets = secretValues(resources);
  for (const map of resources.filter((r) => r.type === "kubernetes:core/v1:ConfigMap")) {
    for (const [key, value] of Object.entries<unknown>(map.props?.data ?? {})) {
      if (/(password|passwd|token|secret|private[-_.]?key)$/i.test(key)) report(`ConfigMap ${map.name} has a key named like a credential: ${key}`, map.urn);
      const text = String(value);
      if (secrets.some((s) => text.includes(s))) report(`ConfigMap ${map.name} key ${key} holds a value that is also in a Secret`, map.urn);
    }
  }
}

export const RESOURCE_POLICIES = [pinnedImages, restrictedPodSecurity, redisAntiAffinity, firewalledLoadBalancer, dataProtected, httpsInProd];
export const STACK_POLICIES = [noSecretInConfigMap, tlsPassthroughProven];
