import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { StackConfig } from "../config/schema";
import { REDIS_PORT, SENTINEL_PORT } from "./redis/render";
import { labelsFor, restrictedContainerSecurity } from "./security";

/** The alert rules, one file for plain Prometheus and the PrometheusRule alike. */
export const ALERT_RULES_FILE = path.resolve(__dirname, "../monitoring/alerts.rules.yml");

export const EXPORTER_PORTS = { redis: 9121, sentinel: 9122 } as const;
export const EXPORTER_PORT_NAMES = { redis: "redis-exp", sentinel: "sentinel-exp" } as const;

export interface AlertRuleGroup {
  name: string;
  rules: Array<{ alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }>;
}

export function alertRuleGroups(): AlertRuleGroup[] {
  return (parse(fs.readFileSync(ALERT_RULES_FILE, "utf8")) as { groups: AlertRuleGroup[] }).groups;
}

/**
 * redis_exporter sidecars for a Redis pod: one scrapes the local Redis, one the
 * local Sentinel (it exports redis_sentinel_* when pointed at a Sentinel).
 */
export function exporterContainers(
  cfg: StackConfig,
  passwordEnv: (envName: string, target: "redis" | "sentinel") => k8s.types.input.core.v1.EnvVar,
): k8s.types.input.core.v1.Container[] {
  const targets = [
    { target: "redis", port: REDIS_PORT },
    { target: "sentinel", port: SENTINEL_PORT },
  ] as const;
  return targets.map(({ target, port }) => ({
    name: `${target}-exporter`,
    image: cfg.redisExporterImage,
    imagePullPolicy: "IfNotPresent",
    env: [
      { name: "REDIS_ADDR", value: `redis://localhost:${port}` },
      passwordEnv("REDIS_PASSWORD", target),
      { name: "REDIS_EXPORTER_WEB_LISTEN_ADDRESS", value: `:${EXPORTER_PORTS[target]}` },
    ],
    ports: [{ name: EXPORTER_PORT_NAMES[target], containerPort: EXPORTER_PORTS[target] }],
    resources: {
      requests: { cpu: cfg.exporterCpu, memory: cfg.exporterMemory },
      limits: { memory: cfg.exporterMemory },
    },
    livenessProbe: { tcpSocket: { port: EXPORTER_PORT_NAMES[target] }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
    securityContext: restrictedContainerSecurity(),
  }));
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
    podMonitor("redis-dr-app", args.appSelector, ["http"]);
    this.registerOutputs({});
  }
}
