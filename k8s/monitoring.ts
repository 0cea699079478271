import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { EXPORTER_PORT_NAMES } from "./redis/exporters";
import { APP_PORT_NAMES } from "./appTier";
import { labelsFor } from "./labels";

/** The alert rules, one file for plain Prometheus and the PrometheusRule alike. */
export const ALERT_RULES_FILE = path.resolve(__dirname, "../monitoring/alerts.rules.yml");

export interface AlertRuleGroup {
  name: string;
  rules: Array<{ alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }>;
}

export function alertRuleGroups(): AlertRuleGroup[] {
  return (parse(fs.readFileSync(ALERT_RULES_FILE, "utf8")) as { groups: AlertRuleGroup[] }).groups;
}

export interface MonitoringArgs {
  namespace: pulumi.Input<string>;
  redisSelector: Record<string, string>;
  appSelector: Record<string, string>;
}

/**
 * prometheus-operator objects (only with redis-dr:prometheusOperator, as they need
 * its CRDs): the alert rules as a PrometheusRule, and PodMonitors for the
 * exporters and the app's /metrics.
 */
export class Monitoring extends pulumi.ComponentResource {
  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:Monitoring", name, {}, opts);
    const { namespace } = args;
    const child = { parent: this };
    const labels = labelsFor("monitoring");

    new k8s.apiextensions.CustomResource(
      "redis-dr-alerts",
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name: "redis-dr-alerts", namespace, labels },
        spec: { groups: alertRuleGroups() },
      },
      child,
    );
    const podMonitor = (monitorName: string, selector: Record<string, string>, ports: string[]) =>
      new k8s.apiextensions.CustomResource(
        monitorName,
        {
          apiVersion: "monitoring.coreos.com/v1",
          kind: "PodMonitor",
          metadata: { name: monitorName, namespace, labels },
          spec: {
            selector: { matchLabels: selector },
            podMetricsEndpoints: ports.map((port) => ({ port, path: "/metrics", interval: "15s" })),
          },
        },
        child,
      );
    podMonitor("redis", args.redisSelector, [EXPORTER_PORT_NAMES.redis, EXPORTER_PORT_NAMES.sentinel]);
    podMonitor("redis-dr-app", args.appSelector, [APP_PORT_NAMES.probe]);
    this.registerOutputs({});
  }
}
