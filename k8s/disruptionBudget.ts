import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** A PodDisruptionBudget that lets a drain or an upgrade take one of the SELECTOR's pods at a time. */
export function oneAtATime(
  name: string,
  args: { namespace: pulumi.Input<string>; labels: Record<string, string>; selector: Record<string, string> },
  opts: pulumi.CustomResourceOptions,
): k8s.policy.v1.PodDisruptionBudget {
  return new k8s.policy.v1.PodDisruptionBudget(
    name,
    { metadata: { name, namespace: args.namespace, labels: args.labels }, spec: { maxUnavailable: 1, selector: { matchLabels: args.selector } } },
    opts,
  );
}
