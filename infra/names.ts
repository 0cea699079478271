/** Linode labels: 3-32 characters of letters, digits, - and _ (LKE cluster labels: no _). */
export function linodeLabel(...parts: string[]): string {
  const label = parts.join("-");
  if (!/^[A-Za-z0-9-]{3,32}$/.test(label)) {
    throw new Error(`Linode label "${label}" must be 3-32 letters, digits and -; use a shorter stack name`);
  }
  return label;
}

/** Names the program gives its Linode resources; ops/ finds them by these. */
export const linodeNames = (stack: string) => ({
  cluster: linodeLabel("redis-dr", stack),
  nodeBalancer: linodeLabel("redis-dr", stack, "app"),
  firewall: linodeLabel("redis-dr", stack, "app-fw"),
});

/** Every Linode resource of a stack carries these; `redis-dr-<stack>` finds them again. */
export function stackTags(extraTags: readonly string[], stack: string): string[] {
  return [...new Set(["redis-dr", stackTag(stack), ...extraTags])];
}

export const stackTag = (stack: string) => `redis-dr-${stack}`;
