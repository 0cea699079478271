import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CCM_ANNOTATIONS } from "../../infra/ccmAnnotations";
import { LoadBalancerBinding } from "../../infra/publicEntry";
import { APP_UID } from "../appTier";
import { labelsFor, selectorFor, TLS_PASSTHROUGH_ANNOTATION } from "../labels";
import { dnsEgress, isolatingPolicy, podEgress } from "../networkPolicy";
import { REPLICATION_TLS_PORT, roleSecretKeys } from "../redis/render";
import type { RedisConnection } from "../redisTier";
import { restrictedContainerSecurity, restrictedPodSecurity, shortNodeFailureTolerations } from "../security";
import { oneAtATime } from "../disruptionBudget";

export const RELAY_COMPONENT = "redis-relay";
export const RELAY_SELECTOR = selectorFor(RELAY_COMPONENT);
export const REPLICATION_SERVICE_NAME = "redis-replication";
/** The relay's listening port in its pod; the NodeBalancer's port is the stack's replicationEndpoint.port. */
export const RELAY_PORT = 6380;
const RELAY_BINARY = "/usr/local/bin/redis-dr-relay";
/** One relay per node of two: either serves; both follow the same Sentinels. */
const RELAY_REPLICAS = 2;
/** Measured locally: 3 MiB RSS idle, 4 MiB relaying a replication stream; the rest is headroom. */
const RELAY_RESOURCES = { requests: { cpu: "20m", memory: "32Mi" }, limits: { memory: "32Mi" } };

export interface ReplicationEndpointArgs {
  namespace: pulumi.Input<string>;
  /** The app image: it carries redis-dr-relay (app/Dockerfile). */
  image: string;
  /** Where the Sentinels are and the Secret with the relay user's password. */
  redis: RedisConnection;
  /** The relay user's accepted passwords (its Sentinel user; the Secret carries the current one): a change restarts the relays. */
  relayPasswords: pulumi.Input<string>;
  /** The NodeBalancer port the standby connects to. */
  port: number;
  /** The reserved address and the CCM annotations (firewall ACL of the standby's addresses). */
  loadBalancer: LoadBalancerBinding;
  notReadyTolerationSeconds: number;
}

/**
 * The primary region's replication endpoint (docs/standby.md): redis-dr-relay relays the
 * standby leader's TLS connection to the master Sentinel names, and closes it when that master
 * changes; a TCP NodeBalancer on a reserved IPv4 gives it one stable address that admits only
 * the standby's addresses. TLS ends at Redis itself: the relay never sees plaintext.
 */
export class ReplicationEndpoint extends pulumi.ComponentResource {
  readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: ReplicationEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:ReplicationEndpoint", name, {}, opts);
    const { namespace, redis } = args;
    const child = { parent: this };
    const labels = labelsFor(RELAY_COMPONENT);
    const env: k8s.types.input.core.v1.EnvVar[] = [
      { name: "RELAY_PORT", value: String(RELAY_PORT) },
      { name: "RELAY_MASTER_PORT", value: String(REPLICATION_TLS_PORT) },
      { name: "SENTINEL_HOST", value: redis.sentinelHost },
      { name: "SENTINEL_PORT", value: String(redis.sentinelPort) },
      { name: "REDIS_MASTER_NAME", value: redis.masterName },
      { name: "SENTINEL_USERNAME", value: "relay" },
      { name: "SENTINEL_PASSWORD", valueFrom: { secretKeyRef: { name: redis.secretName, key: roleSecretKeys("relay").current } } },
    ];
    const tcpProbe = { tcpSocket: { port: "relay" } };
    const deployment = new k8s.apps.v1.Deployment(
      RELAY_COMPONENT,
      {
        metadata: { name: RELAY_COMPONENT, namespace, labels },
        spec: {
          replicas: RELAY_REPLICAS,
          selector: { matchLabels: RELAY_SELECTOR },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: { labels, annotations: { "redis-dr/redis-credentials-checksum": checksumOf(args.relayPasswords) } },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: restrictedPodSecurity(APP_UID),
              tolerations: shortNodeFailureTolerations(args.notReadyTolerationSeconds),
              affinity: {
                podAntiAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: [
                    { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: RELAY_SELECTOR }, topologyKey: "kubernetes.io/hostname" } },
                  ],
                },
              },
              containers: [
                {
                  name: "relay",
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  command: [RELAY_BINARY],
                  ports: [{ name: "relay", containerPort: RELAY_PORT }],
                  env,
                  resources: RELAY_RESOURCES,
                  livenessProbe: { ...tcpProbe, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
                  readinessProbe: { ...tcpProbe, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
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
      REPLICATION_SERVICE_NAME,
      {
        metadata: {
          name: REPLICATION_SERVICE_NAME,
          namespace,
          labels,
          annotations: {
            ...args.loadBalancer.annotations,
            // Redis speaks its own protocol inside TLS: the NodeBalancer passes TCP through, with no proxy protocol.
            [CCM_ANNOTATIONS.protocol]: "tcp",
            [TLS_PASSTHROUGH_ANNOTATION]: "true",
            [CCM_ANNOTATIONS.checkType]: "connection",
          },
        },
        spec: {
          type: "LoadBalancer",
          // Cluster: any node forwards to a relay; the NodeBalancer's firewall already admits only the standby.
          externalTrafficPolicy: "Cluster",
          selector: RELAY_SELECTOR,
          ports: [{ name: "redis-tls", protocol: "TCP", port: args.port, targetPort: "relay" }],
        },
      },
      { ...child, dependsOn: [deployment] },
    );

    oneAtATime(RELAY_COMPONENT, { namespace, labels, selector: RELAY_SELECTOR }, child);

    // The standby arrives through the NodeBalancer and node ports; the relay reaches only the
    // Sentinels (to find the master) and the Redis pods' TLS port.
    isolatingPolicy(
      RELAY_COMPONENT,
      {
        namespace,
        labels,
        selector: RELAY_SELECTOR,
        ingress: [{ ports: [{ protocol: "TCP", port: RELAY_PORT }] }],
        egress: [dnsEgress(), podEgress(redis.podSelector, [redis.sentinelPort, REPLICATION_TLS_PORT])],
      },
      child,
    );

    this.serviceName = service.metadata.name;
    this.registerOutputs({ serviceName: this.serviceName });
  }
}

function checksumOf(secret: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(secret).apply((value) => crypto.createHash("sha256").update(value).digest("hex"));
}
