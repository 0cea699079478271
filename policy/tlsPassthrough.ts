import { PolicyResource, ReportViolation, StackValidationPolicy } from "@pulumi/policy";
import { TLS_PASSTHROUGH_ANNOTATION } from "../k8s/labels";

type Resource = Pick<PolicyResource, "type" | "props" | "urn" | "name">;

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/**
 * A LoadBalancer Service marked as TLS passthrough (https-in-prod lets it serve tcp) must prove
 * it: every pod it selects runs redis-dr-relay, relaying to a port that a rendered redis.conf
 * serves as TLS with client certificates required. Anything else marked so is plaintext on
 * the internet.
 */
export function checkTlsPassthrough(resources: Resource[], report: ReportViolation): void {
  const configs = resources
    .filter((r) => r.type === "kubernetes:core/v1:ConfigMap")
    .map((r) => String(r.props?.data?.["redis.conf"] ?? ""))
    .filter((conf) => /^tls-auth-clients yes$/m.test(conf));
  const tlsPorts = new Set(configs.flatMap((conf) => [...conf.matchAll(/^tls-port (\d+)$/gm)].map((m) => m[1]!)));
  const workloads = resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
  for (const service of resources.filter((r) => r.type === "kubernetes:core/v1:Service" && r.props?.metadata?.annotations?.[TLS_PASSTHROUGH_ANNOTATION] === "true")) {
    const selector = service.props?.spec?.selector ?? {};
    const pods = workloads.filter((w) => matches(selector, w.props?.spec?.template?.metadata?.labels));
    const containers = pods.flatMap((w) => w.props?.spec?.template?.spec?.containers ?? []);
    const relaysToTls = (c: any) =>
      String(c.command?.[0] ?? "").endsWith("/redis-dr-relay") && tlsPorts.has(String(c.env?.find((e: { name: string }) => e.name === "RELAY_MASTER_PORT")?.value));
    if (containers.length === 0 || !containers.every(relaysToTls)) {
      report(`Service ${service.name} is marked ${TLS_PASSTHROUGH_ANNOTATION} but does not select only redis-dr-relay pods relaying to a Redis TLS port that requires client certificates`, service.urn);
    }
  }
}

export const tlsPassthroughProven: StackValidationPolicy = {
  name: "tls-passthrough-proven",
  description: "A LoadBalancer Service that passes TLS through selects only relays to a Redis TLS port requiring client certificates.",
  enforcementLevel: "mandatory",
  validateStack: (stack, report) => checkTlsPassthrough(stack.resources, report),
};
