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
