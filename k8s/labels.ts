/** Labels every object of a component carries. */
export function labelsFor(component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": component,
    "app.kubernetes.io/part-of": "redis-dr",
    "app.kubernetes.io/managed-by": "pulumi",
  };
}

/** The subset of labels used in selectors (must never change for a live workload). */
export function selectorFor(component: string): Record<string, string> {
  return { "app.kubernetes.io/name": component, "app.kubernetes.io/part-of": "redis-dr" };
}

/**
 * On a LoadBalancer Service whose TLS ends at Redis itself, not at the NodeBalancer (the
 * replication endpoint): the policy pack then checks that it does (policy/tlsPassthrough.ts).
 */
export const TLS_PASSTHROUGH_ANNOTATION = "redis-dr/tls-passthrough";
