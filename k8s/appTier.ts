import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "../config/schema";
import { SECRET_KEYS, SENTINEL_PORT } from "./redis/render";
import { labelsFor, restrictedContainerSecurity, restrictedPodSecurity, selectorFor, shortNodeFailureTolerations } from "./security";

export const APP_COMPONENT = "redis-dr-app";
export const APP_SERVICE_NAME = "redis-dr-app";
/** Paths the C++ service serves its probes on (app/src/http_api.cpp). */
export const APP_PATHS = { liveness: "/healthz", readiness: "/readyz", metrics: "/metrics" } as const;
/** Non-root uid baked into app/Dockerfile. */
export const APP_UID = 10001;
/** Seconds the app keeps serving after SIGTERM while endpoints and the NodeBalancer drop it. */
const SHUTDOWN_DRAIN_SECONDS = 5;

export const NODEBALANCER_ANNOTATIONS = {
  id: "service.beta.kubernetes.io/linode-loadbalancer-nodebalancer-id",
  preserve: "service.beta.kubernetes.io/linode-loadbalancer-preserve",
  checkType: "service.beta.kubernetes.io/linode-loadbalancer-check-type",
  checkPath: "service.beta.kubernetes.io/linode-loadbalancer-check-path",
  protocol: "service.beta.kubernetes.io/linode-loadbalancer-default-protocol",
} as const;

export interface AppTierArgs {
  cfg: StackConfig;
  namespace: pulumi.Input<string>;
  secretName: pulumi.Input<string>;
  sentinelHost: pulumi.Input<string>;
  nodeBalancerId: pulumi.Input<string>;
}

/** The C++ service: Deployment, LoadBalancer Service on the Pulumi NodeBalancer, PDB, NetworkPolicy. */
export class AppTier extends pulumi.ComponentResource {
  readonly serviceName: pulumi.Output<string>;
  readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: AppTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:AppTier", name, {}, opts);
    const { cfg, namespace } = args;
    const child = { parent: this };
    const labels = labelsFor(APP_COMPONENT);
    const selector = selectorFor(APP_COMPONENT);
    const secretEnv = (envName: string, key: string): k8s.types.input.core.v1.EnvVar => ({
      name: envName,
      valueFrom: { secretKeyRef: { name: args.secretName, key } },
    });
    const httpProbe = (path: string) => ({ httpGet: { path, port: "http" } });

    this.deployment = new k8s.apps.v1.Deployment(
      APP_COMPONENT,
      {
        metadata: { name: APP_COMPONENT, namespace, labels },
        spec: {
          replicas: cfg.appReplicas,
          selector: { matchLabels: selector },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              terminationGracePeriodSeconds: SHUTDOWN_DRAIN_SECONDS + 25,
              securityContext: restrictedPodSecurity(APP_UID),
              tolerations: shortNodeFailureTolerations(cfg.notReadyTolerationSeconds),
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: "kubernetes.io/hostname",
                  whenUnsatisfiable: "ScheduleAnyway",
                  labelSelector: { matchLabels: selector },
                },
              ],
              containers: [
                {
                  name: "app",
                  image: cfg.appImage,
                  imagePullPolicy: "IfNotPresent",
                  ports: [{ name: "http", containerPort: cfg.appPort }],
                  env: [
                    { name: "SENTINEL_HOST", value: args.sentinelHost },
                    { name: "SENTINEL_PORT", value: String(SENTINEL_PORT) },
                    { name: "REDIS_MASTER_NAME", value: cfg.masterName },
                    secretEnv("REDIS_PASSWORD", SECRET_KEYS.redisPassword),
                    secretEnv("SENTINEL_PASSWORD", SECRET_KEYS.sentinelPassword),
                    { name: "HTTP_PORT", value: String(cfg.appPort) },
                    { name: "REDIS_WAIT_REPLICAS", value: String(cfg.appWaitReplicas) },
                    { name: "REDIS_WAIT_TIMEOUT_MS", value: String(cfg.appWaitTimeoutMs) },
                    { name: "REDIS_REQUEST_TIMEOUT_MS", value: String(cfg.appRequestTimeoutMs) },
                    { name: "SHUTDOWN_DRAIN_SECONDS", value: String(SHUTDOWN_DRAIN_SECONDS) },
                  ],
                  resources: {
                    requests: { cpu: cfg.appCpu, memory: cfg.appMemory },
                    limits: { memory: cfg.appMemory },
                  },
                  // Liveness never depends on Redis: a failover must not restart every app pod.
                  startupProbe: { ...httpProbe(APP_PATHS.liveness), periodSeconds: 2, failureThreshold: 30 },
                  livenessProbe: { ...httpProbe(APP_PATHS.liveness), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                  readinessProbe: { ...httpProbe(APP_PATHS.readiness), periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 1 },
                  securityContext: restrictedContainerSecurity(),
                },
              ],
            },
          },
        },
      },
      child,
    );

    const service = new k8s.core.v1.Service(
      APP_SERVICE_NAME,
      {
        metadata: {
          name: APP_SERVICE_NAME,
          namespace,
          labels,
          annotations: {
            // Adopt the NodeBalancer Pulumi owns instead of letting the CCM create one...
            [NODEBALANCER_ANNOTATIONS.id]: args.nodeBalancerId,
            // ...and never let the CCM delete it with the Service.
            [NODEBALANCER_ANNOTATIONS.preserve]: "true",
            [NODEBALANCER_ANNOTATIONS.protocol]: "tcp",
            [NODEBALANCER_ANNOTATIONS.checkType]: "http",
            [NODEBALANCER_ANNOTATIONS.checkPath]: APP_PATHS.readiness,
          },
        },
        spec: {
          type: "LoadBalancer",
          selector,
          ports: [{ name: "http", protocol: "TCP", port: cfg.publicPort, targetPort: "http" }],
        },
      },
      { ...child, dependsOn: [this.deployment] },
    );

    new k8s.policy.v1.PodDisruptionBudget(
      APP_COMPONENT,
      { metadata: { name: APP_COMPONENT, namespace, labels }, spec: { maxUnavailable: 1, selector: { matchLabels: selector } } },
      child,
    );

    // Public traffic arrives through the NodeBalancer and node ports, so any source may reach the HTTP port, and nothing else.
    new k8s.networking.v1.NetworkPolicy(
      APP_COMPONENT,
      {
        metadata: { name: APP_COMPONENT, namespace, labels },
        spec: {
          podSelector: { matchLabels: selector },
          policyTypes: ["Ingress"],
          ingress: [{ ports: [{ protocol: "TCP", port: cfg.appPort }] }],
        },
      },
      child,
    );

    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}

export function appSelector(): Record<string, string> {
  return selectorFor(APP_COMPONENT);
}
