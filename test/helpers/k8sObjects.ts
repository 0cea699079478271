import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { CronJob } from "kubernetes-models/batch/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Secret, Service } from "kubernetes-models/v1";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { MockResource } from "./pulumiMocks";

export { isSecretWrapper, plain } from "../../local/cluster/programMocks";
import { plain } from "../../local/cluster/programMocks";

/**
 * networking.linode.com/alpha1v1 CloudFirewall, checked against the CRD's Go types
 * (linode/cloud-firewall-controller, api/alpha1v1/cloudfirewall_types.go): no model package exists.
 */
class CloudFirewall {
  constructor(private readonly data: any) {}
  validate(): void {
    const ruleset = this.data.spec?.ruleset ?? {};
    const policies = ["ACCEPT", "DROP"];
    for (const policy of [ruleset.inbound_policy, ruleset.outbound_policy]) {
      if (policy !== undefined && !policies.includes(policy)) throw new Error(`CloudFirewall policy ${policy} is not ACCEPT or DROP`);
    }
    for (const rule of [...(ruleset.inbound ?? []), ...(ruleset.outbound ?? [])]) {
      if (!policies.includes(rule.action) || !rule.label || !["TCP", "UDP", "ICMP", "IPENCAP"].includes(rule.protocol) || !rule.addresses) {
        throw new Error(`CloudFirewall rule ${JSON.stringify(rule)} lacks action, label, protocol or addresses`);
      }
    }
    if (this.data.spec?.defaultRules !== undefined && typeof this.data.spec.defaultRules !== "boolean") throw new Error("defaultRules must be a boolean");
  }
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  "networking.linode.com/alpha1v1/CloudFirewall": CloudFirewall,
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/StatefulSet": StatefulSet,
  "apps/v1/Deployment": Deployment,
  "batch/v1/CronJob": CronJob,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor,
};

/** A Kubernetes API object (a Helm release is not one: Helm renders its objects at deploy time). */
export function isKubernetesObject(resource: MockResource): boolean {
  return resource.type.startsWith("kubernetes:") && !resource.type.startsWith("kubernetes:helm.sh/");
}

/** Validate a rendered Kubernetes object against the Kubernetes OpenAPI schema; throws on mismatch. */
export function validateAgainstSchema(resource: MockResource): void {
  const obj = plain(resource.inputs);
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no schema model for ${obj.apiVersion}/${obj.kind}; add it to MODELS`);
  new Model(obj).validate();
}
