/** The fields of a Service and its Events that tell whether the CCM gave it an address. */
export interface ServiceView {
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}
export interface EventView {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string | null;
}

export interface LoadBalancerDiagnosis {
  state: "ready" | "pending";
  address?: string;
  /** One line an operator can act on. */
  message: string;
  /** The CCM's own words, newest last. */
  events: string[];
}

/**
 * What the app Service's load-balancer state means. The CCM records each failed sync as a
 * Warning event (reason SyncLoadBalancerFailed) carrying the Linode API error; a 403 there is
 * the managed-CCM token problem of linode-cloud-controller-manager #359 and #392.
 */
export function diagnoseLoadBalancer(service: ServiceView, events: EventView[], mode: "pulumi" | "reserved-ip"): LoadBalancerDiagnosis {
  const ingress = service.status?.loadBalancer?.ingress?.[0];
  const failures = events
    .filter((e) => e.type === "Warning" && /LoadBalancer/i.test(e.reason ?? ""))
    .sort((a, b) => String(a.lastTimestamp ?? "").localeCompare(String(b.lastTimestamp ?? "")))
    .map((e) => `${e.reason}: ${e.message ?? ""}${e.count && e.count > 1 ? ` (x${e.count})` : ""}`);
  if (ingress?.ip || ingress?.hostname) {
    return { state: "ready", address: ingress.ip ?? ingress.hostname ?? "", message: `has its address ${ingress.ip ?? ingress.hostname}`, events: failures };
  }
  const last = failures.at(-1) ?? "";
  let message = "is pending: the CCM has not reported an address yet (no failure recorded; it may still be creating the NodeBalancer)";
  if (/\b403\b|Unauthorized|forbidden/i.test(last)) {
    message =
      mode === "pulumi"
        ? "is stuck: the CCM gets 403 Unauthorized on the NodeBalancer Pulumi created. LKE's managed CCM appears to reach only objects it created (linode-cloud-controller-manager #359, #392). Switch the public entry: pulumi config set redis-dr:publicEntry reserved-ip, then pulumi up (docs/linode.md, \"Public entry modes\")"
        : "is stuck: the CCM gets 403 Unauthorized even in reserved-ip mode; check that the reserved IPv4 is in the cluster's region and open a Linode support ticket with the event text";
  } else if (/too many firewalls/i.test(last)) {
    message = "is stuck: two Cloud Firewalls are attached to the NodeBalancer and the CCM refuses to choose; detach the one that is not the stack's (an account default) in Cloud Manager";
  } else if (last) {
    message = `is pending; the CCM's last failure: ${last}`;
  }
  return { state: "pending", message, events: failures };
}
