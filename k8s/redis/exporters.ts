import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { restrictedContainerSecurity } from "../security";
import { RoleUser, SentinelAclUser } from "./acl";
import { REDIS_PORT, RedisSettings, roleSecretKeys, SENTINEL_PORT } from "./render";

export const EXPORTER_PORTS = { redis: 9121, sentinel: 9122 } as const;
export const EXPORTER_PORT_NAMES = { redis: "redis-exp", sentinel: "sentinel-exp" } as const;
export type ExporterTarget = keyof typeof EXPORTER_PORTS;

/**
 * The exporters' fixed settings, as the pods and the monitoring test run them (redis_exporter
 * main.go): `/scrape?target=` off, which would otherwise connect anywhere with the configured
 * password (disable-scrape-endpoint, since v1.83.0, #1106); for Redis no CONFIG command, which
 * the monitor user may not send (config-command "-": no redis_config_* metrics, which no alert uses).
 */
export function exporterSettings(target: ExporterTarget): Record<string, string> {
  return {
    REDIS_EXPORTER_DISABLE_SCRAPE_ENDPOINT: "true",
    ...(target === "redis" ? { REDIS_EXPORTER_CONFIG_COMMAND: "-" } : {}),
  };
}

/**
 * redis_exporter sidecars of a Redis pod: one scrapes the local Redis, one the local Sentinel
 * (it exports redis_sentinel_* when pointed at a Sentinel). Each reads its password from the
 * Redis tier's Secret: both are the read-only `monitor` user, of Redis and of Sentinel (k8s/redis/acl.ts).
 */
export function exporterContainers(
  settings: Pick<RedisSettings, "redisExporterImage" | "exporterCpu" | "exporterMemory">,
  secretName: pulumi.Input<string>,
): k8s.types.input.core.v1.Container[] {
  const targets = [
    { target: "redis", port: REDIS_PORT },
    { target: "sentinel", port: SENTINEL_PORT },
  ] as const;
  return targets.map(({ target, port }) => ({
    name: `${target}-exporter`,
    image: settings.redisExporterImage,
    imagePullPolicy: "IfNotPresent",
    env: [
      { name: "REDIS_ADDR", value: `redis://localhost:${port}` },
      { name: "REDIS_USER", value: "monitor" satisfies RoleUser & SentinelAclUser },
      { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: secretName, key: roleSecretKeys("monitor").current } } },
      { name: "REDIS_EXPORTER_WEB_LISTEN_ADDRESS", value: `:${EXPORTER_PORTS[target]}` },
      ...Object.entries(exporterSettings(target)).map(([name, value]) => ({ name, value })),
    ],
    ports: [{ name: EXPORTER_PORT_NAMES[target], containerPort: EXPORTER_PORTS[target] }],
    resources: {
      requests: { cpu: settings.exporterCpu, memory: settings.exporterMemory },
      limits: { memory: settings.exporterMemory },
    },
    livenessProbe: { tcpSocket: { port: EXPORTER_PORT_NAMES[target] }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
    securityContext: restrictedContainerSecurity(),
  }));
}
