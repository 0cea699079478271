import { execFileSync } from "child_process";
import { EventView, ServiceView } from "../k8s/loadBalancerDiagnosis";

/** The app Service and its events through kubectl (the caller's kubeconfig). */
export function kubectlLoadBalancerView(namespace: string, serviceName: string): { service: ServiceView; events: EventView[] } {
  const run = (args: string[]) => JSON.parse(execFileSync("kubectl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })) as unknown;
  const service = run(["get", "service", serviceName, "-n", namespace, "-o", "json"]) as ServiceView;
  const events = run([
    "get",
    "events",
    "-n",
    namespace,
    "--field-selector",
    `involvedObject.kind=Service,involvedObject.name=${serviceName}`,
    "-o",
    "json",
  ]) as { items: EventView[] };
  return { service, events: events.items };
}
