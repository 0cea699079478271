import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CCM_ANNOTATIONS, httpsPortAnnotation } from "../infra/ccmAnnotations";
import { LoadBalancerBinding } from "../infra/publicEntry";
import { APP_SECRET_VARIABLES, APP_TOKENS_VARIABLE, appVariables } from "./appEnvironment";
import { LoadBalancerWait } from "./loadBalancerWait";
import { RedisConnection } from "./redisTier";
import { dnsEgress, isolatingPolicy, namespaceLabel, podEgress } from "./networkPolicy";
import { labelsFor, selectorFor } from "./labels";
import { restrictedContainerSecurity, restrictedPodSecurity, shortNodeFailureTolerations } from "./security";
import { oneAtATime } from "./disruptionBudget";

export const APP_COMPONENT = "redis-dr-app";
export const APP_SERVICE_NAME = "redis-dr-app";
/** The Secret holding the public API's bearer tokens, and its key. */
export const API_TOKENS_SECRET = { name: "redis-dr-api", key: "tokens" } as const;
/** Paths the C++ service serves its probes on (app/src/api_routes.hpp); all on the probe port, /readyz also (without detail) on the public one. */
export const APP_PATHS = { liveness: "/healthz", readiness: "/readyz", metrics: "/metrics" } as const;
/** Container port names: the public API, and the probes and metrics. */
export const APP_PORT_NAMES = { http: "http", probe: "probe" } as const;
/** Non-root uid baked into app/Dockerfile. */
export const APP_UID = 10001;
/** Pods the app's Deployment selects; the Redis NetworkPolicy admits them. */
export const APP_SELECTOR = selectorFor(APP_COMPONENT);

/**
 * The NodeBalancer's active health check on each node's NodePort (CCM defaults: interval 5,
 * timeout 3, attempts 2, passive on; cloud/linode/loadbalancers.go, buildNodeBalancerConfig),
 * stated here so the detection time below is ours, not an accident of defaults. Passive checks
 * in TCP mode react to refused or timed-out connections, never to an HTTP status.
 */
export const NODEBALANCER_CHECK = { intervalSeconds: 5, timeoutSeconds: 3, attempts: 2, passive: true } as const;
/** Longest time the NodeBalancer keeps sending new connections to a node whose app pod went unready. */
export const NODEBALANCER_DETECTION_SECONDS =
  NODEBALANCER_CHECK.intervalSeconds * NODEBALANCER_CHECK.attempts + NODEBALANCER_CHECK.timeoutSeconds;
/** Seconds the app keeps serving after SIGTERM (with readiness failing): past the NodeBalancer's detection time. */
export const SHUTDOWN_DRAIN_SECONDS = NODEBALANCER_DETECTION_SECONDS + 2;

export interface AppTierArgs {
  namespace: pulumi.Input<string>;
  image: string;
  replicas: number;
  /** Container port of the HTTP API (the Service's target). */
  containerPort: number;
  /** Container port of /healthz, /readyz and /metrics: the kubelet's probes and Prometheus, never the Service. */
  probePort: number;
  /** Namespace whose Prometheus may scrape /metrics on the probe port. */
  monitoringNamespace: string;
  cpu: string;
  memory: string;
  /** Where and how the app finds Redis: the Redis tier's typed reference. */
  redis: RedisConnection;
  /** Bearer tokens the public API accepts, comma-separated (a secret). */
  apiTokens: pulumi.Input<string>;
  /** REDIS_WAIT_REPLICAS / REDIS_WAIT_TIMEOUT_MS / REDIS_REQUEST_TIMEOUT_MS of the service. */
  waitReplicas: number;
  waitTimeoutMs: number;
  requestTimeoutMs: number;
  /** IDEMPOTENCY_KEEP_SECONDS: how long a keyed increment's outcome is kept. */
  idempotencyKeepSeconds: number;
  notReadyTolerationSeconds: number;
  /** Port the NodeBalancer serves. */
  publicPort: number;
  /** A kubernetes.io/tls Secret in the namespace: the NodeBalancer terminates HTTPS on publicPort with it. */
  tlsSecretName?: string;
  loadBalancer: LoadBalancerBinding;
  /** Bound on `pulumi up`'s wait for the Service's load-balancer address. */
  loadBalancerTimeoutSeconds: number;
  /** The cluster's kubeconfig (a secret), for that wait. */
  kubeconfig: pulumi.Input<string>;
}

/** The C++ service: Deployment, LoadBalancer Service bound to the public entry, PDB, NetworkPolicy. */
export class AppTier extends pulumi.ComponentResource {
  readonly serviceName: pulumi.Output<string>;
  readonly deployment: k8s.apps.v1.Deployment;
  /** The address the CCM reported on the Service: known once `pulumi up` has waited for it. */
  readonly serviceAddress: pulumi.Output<string>;

  constructor(name: string, args: AppTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:AppTier", name, {}, opts);
    const { namespace, redis } = args;
    const child = { parent: this };
    const labels = labelsFor(APP_COMPONENT);
    const selector = APP_SELECTOR;
    const variables = appVariables({
      sentinelHosts: redis.sentinelHost,
      sentinelPort: redis.sentinelPort,
      masterName: redis.masterName,
      aclUser: redis.username,
      httpPort: args.containerPort,
      probePort: args.probePort,
      waitReplicas: args.waitReplicas,
      waitTimeoutMs: args.waitTimeoutMs,
      requestTimeoutMs: args.requestTimeoutMs,
      idempotencyKeepSeconds: args.idempotencyKeepSeconds,
      shutdownDrainSeconds: SHUTDOWN_DRAIN_SECONDS,
    });
    const tokens = pulumi.secret(args.apiTokens);
    const tokenSecret = new k8s.core.v1.Secret(
      API_TOKENS_SECRET.name,
      { metadata: { name: API_TOKENS_SECRET.name, namespace, labels }, type: "Opaque", stringData: { [API_TOKENS_SECRET.key]: tokens } },
      child,
    );
    const env: k8s.types.input.core.v1.EnvVar[] = [
      ...Object.entries(variables).map(([name, value]) => ({ name, value })),
      ...Object.entries(APP_SECRET_VARIABLES).map(([name, password]) => ({
        name,
        valueFrom: { secretKeyRef: { name: redis.secretName, key: redis.secretKeys[password] } },
      })),
      { name: APP_TOKENS_VARIABLE, valueFrom: { secretKeyRef: { name: tokenSecret.metadata.name, key: API_TOKENS_SECRET.key } } },
    ];
    // An env var from a Secret is read at start only: a changed token list rolls the pods (one at a
    // time, maxUnavailable 0), so during a rotation every pod accepts the old and the new token.
    const tokensChecksum = tokens.apply((t) => crypto.createHash("sha256").update(t).digest("hex"));
    const httpProbe = (path: string) => ({ httpGet: { path, port: APP_PORT_NAMES.probe } });

    this.deployment = new k8s.apps.v1.Deployment(
      APP_COMPONENT,
      {
        metadata: { name: APP_COMPONENT, namespace, labels },
        spec: {
          replicas: args.replicas,
          selector: { matchLabels: selector },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: {
              labels,
              annotations: { "redis-dr/api-tokens-checksum": tokensChecksum, "redis-dr/redis-credentials-checksum": redis.credentialsChecksum },
            },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              terminationGracePeriodSeconds: SHUTDOWN_DRAIN_SECONDS + 25,
              securityContext: restrictedPodSecurity(APP_UID),
              tolerations: shortNodeFailureTolerations(args.notReadyTolerationSeconds),
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
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  ports: [
                    { name: APP_PORT_NAMES.http, containerPort: args.containerPort },
                    { name: APP_PORT_NAMES.probe, containerPort: args.probePort },
                  ],
                  env,
                  resources: {
                    requests: { cpu: args.cpu, memory: args.memory },
                    limits: { memory: args.memory },
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
            ...args.loadBalancer.annotations,
            ...(args.tlsSecretName ? httpsPortAnnotation(args.publicPort, args.tlsSecretName) : {}),
            // The LoadBalancerWait below waits instead, bounded and with a diagnosis.
            "pulumi.com/skipAwait": "true",
            [CCM_ANNOTATIONS.protocol]: "tcp",
            [CCM_ANNOTATIONS.checkType]: "http",
            [CCM_ANNOTATIONS.checkPath]: APP_PATHS.readiness,
            [CCM_ANNOTATIONS.checkInterval]: String(NODEBALANCER_CHECK.intervalSeconds),
            [CCM_ANNOTATIONS.checkTimeout]: String(NODEBALANCER_CHECK.timeoutSeconds),
            [CCM_ANNOTATIONS.checkAttempts]: String(NODEBALANCER_CHECK.attempts),
            [CCM_ANNOTATIONS.checkPassive]: String(NODEBALANCER_CHECK.passive),
          },
        },
        spec: {
          type: "LoadBalancer",
          // Local: a node forwards only to its own app pods, so the NodeBalancer's /readyz check
          // on that node is answered by that node's pod (or fails when it has none), and the
          // client's address reaches the app. Cluster would let kube-proxy answer from any node.
          externalTrafficPolicy: "Local",
          selector,
          ports: [{ name: "http", protocol: "TCP", port: args.publicPort, targetPort: APP_PORT_NAMES.http }],
        },
      },
      { ...child, dependsOn: [this.deployment] },
    );
    const wait = new LoadBalancerWait(
      "app-load-balancer",
      {
        kubeconfig: args.kubeconfig,
        namespace,
        service: service.metadata.name,
        mode: args.loadBalancer.mode,
        annotations: service.metadata.annotations.apply((a) => JSON.stringify(a ?? {})),
        timeoutSeconds: args.loadBalancerTimeoutSeconds,
      },
      { ...child, dependsOn: [service] },
    );
    this.serviceAddress = wait.address;

    oneAtATime(APP_COMPONENT, { namespace, labels, selector: selector }, child);

    // Public traffic arrives through the NodeBalancer and node ports, so any source may reach the HTTP port;
    // only the monitoring namespace reaches the probe port (the kubelet's probes come from the node, which
    // NetworkPolicy always admits: kubernetes.io/docs/concepts/services-networking/network-policies).
    isolatingPolicy(
      APP_COMPONENT,
      {
        namespace,
        labels,
        selector,
        ingress: [
          { ports: [{ protocol: "TCP", port: args.containerPort }] },
          { from: [{ namespaceSelector: { matchLabels: namespaceLabel(args.monitoringNamespace) } }], ports: [{ protocol: "TCP", port: args.probePort }] },
        ],
        // The app opens connections only to Sentinel and Redis, after a lookup.
        egress: [dnsEgress(), podEgress(redis.podSelector, [redis.sentinelPort, redis.redisPort])],
      },
      child,
    );

    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
