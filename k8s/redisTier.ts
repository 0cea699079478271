import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  HEADLESS_SERVICE_NAME,
  readScripts,
  REDIS_PORT,
  REPLICATION_TLS_FILES,
  REPLICATION_TLS_PORT,
  REPLICATION_TLS_SECRET_NAME,
  RedisSettings,
  renderRedisConf,
  renderSentinelTemplate,
  roleSecretKeys,
  SECRET_KEYS,
  SECRET_NAME,
  SENTINEL_PORT,
  SENTINEL_SERVICE_NAME,
  STATEFULSET_NAME,
} from "./redis/render";
import { firstPassword, renderAclUsers, renderSentinelAclUsers, ROLE_USERS, RoleUser } from "./redis/acl";
import { EXPORTER_PORTS } from "./redis/exporters";
import { redisPodTemplate } from "./redis/podTemplate";
import { SeedChoice } from "./redis/podEnvironment";
import { labelsFor, selectorFor } from "./labels";
import { dnsEgress, endpointEgress, isolatingPolicy, namespaceLabel, podEgress } from "./networkPolicy";
import { BackupStoreRef } from "./backup/backupJob";
import { RELAY_SELECTOR } from "./standby/replicationEndpoint";
import type { TlsIdentity } from "./standby/replicationTls";
import { oneAtATime } from "./disruptionBudget";

export const REDIS_COMPONENT = "redis";

/** Keys of the Redis Secret a client reads: Sentinel's password and the app user's. */
export const CLIENT_SECRET_KEYS = { sentinelPassword: SECRET_KEYS.sentinelPassword, appPassword: roleSecretKeys("app").current } as const;

/** How a client reaches this Redis tier: what the app's Deployment is built from. */
export interface RedisConnection {
  /** DNS name of the Sentinel Service; it resolves to every Sentinel pod, ready or not. */
  sentinelHost: pulumi.Output<string>;
  sentinelPort: number;
  /** The Redis pods and the port a master serves on: what a client's egress policy admits. */
  redisPort: number;
  podSelector: Record<string, string>;
  masterName: string;
  /** The Redis user the app is (k8s/redis/acl.ts), the Secret holding its password and Sentinel's, and their keys. */
  username: "app";
  secretName: pulumi.Output<string>;
  secretKeys: typeof CLIENT_SECRET_KEYS;
  /** Changes when the app's password does: a pod annotation that rolls the app with it. */
  credentialsChecksum: pulumi.Output<string>;
}

export interface RedisTierArgs {
  /** Exactly the stack config keys the Redis pods are built from (REDIS_SETTING_KEYS). */
  settings: RedisSettings;
  namespace: pulumi.Input<string>;
  /** The admin user's password (the pod scripts, backups, operators) and Sentinel's own. */
  redisPassword: pulumi.Input<string>;
  sentinelPassword: pulumi.Input<string>;
  /** Each role user's accepted passwords, comma-separated; clients use the first. */
  rolePasswords: Record<RoleUser, pulumi.Input<string>>;
  /** Pods allowed to reach Redis and Sentinel besides the Redis pods themselves (the app, the backup job). */
  clientSelectors: Record<string, string>[];
  /** Seed a new, empty deployment from a backup (stack config restoreFrom). */
  seed?: SeedFromBackup;
  /** The pods' TLS identity for the standby region's link: required exactly when settings.replicationEndpoint is set. */
  replicationTls?: TlsIdentity;
}

/** What the restore init container needs: the bucket to read, which point, rclone and the archiver (to replay the archive). */
export interface SeedFromBackup extends SeedChoice {
  store: BackupStoreRef;
  rcloneImage: string;
  archiverImage: string;
}

/** What other workloads that run the pod scripts (the backup job) mount and read. */
export interface RedisPodScripts {
  configMapName: pulumi.Output<string>;
  secretName: pulumi.Output<string>;
}

/**
 * Redis with a Sentinel sidecar in every pod: StatefulSet, Secret, ConfigMaps,
 * headless and Sentinel Services, PodDisruptionBudget and NetworkPolicy.
 */
export class RedisTier extends pulumi.ComponentResource {
  readonly secretName: pulumi.Output<string>;
  readonly sentinelServiceName: pulumi.Output<string>;
  readonly connection: RedisConnection;
  readonly scripts: RedisPodScripts;
  readonly statefulSet: k8s.apps.v1.StatefulSet;

  constructor(name: string, args: RedisTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:RedisTier", name, {}, opts);
    const { settings: cfg, namespace } = args;
    const child = { parent: this };
    const labels = labelsFor(REDIS_COMPONENT);
    const selector = selectorFor(REDIS_COMPONENT);

    if (Boolean(cfg.replicationEndpoint) !== Boolean(args.replicationTls)) {
      throw new Error("RedisTier: replicationTls must be given exactly when settings.replicationEndpoint is set (redis.conf then serves TLS)");
    }
    const tlsSecret = args.replicationTls
      ? new k8s.core.v1.Secret(
          REPLICATION_TLS_SECRET_NAME,
          {
            metadata: { name: REPLICATION_TLS_SECRET_NAME, namespace, labels },
            type: "Opaque",
            stringData: {
              [REPLICATION_TLS_FILES.ca]: args.replicationTls.caCertPem,
              [REPLICATION_TLS_FILES.cert]: args.replicationTls.certPem,
              [REPLICATION_TLS_FILES.key]: pulumi.secret(args.replicationTls.keyPem),
            },
          },
          child,
        )
      : undefined;

    const secret = new k8s.core.v1.Secret(
      SECRET_NAME,
      {
        metadata: { name: SECRET_NAME, namespace, labels },
        type: "Opaque",
        stringData: {
          [SECRET_KEYS.redisPassword]: pulumi.secret(args.redisPassword),
          [SECRET_KEYS.sentinelPassword]: pulumi.secret(args.sentinelPassword),
          ...Object.fromEntries(
            ROLE_USERS.flatMap((user) => [
              [roleSecretKeys(user).accepted, pulumi.secret(args.rolePasswords[user])],
              [roleSecretKeys(user).current, pulumi.secret(pulumi.output(args.rolePasswords[user]).apply(firstPassword))],
            ]),
          ),
        },
      },
      child,
    );

    const configFiles = { "redis.conf": renderRedisConf(cfg), "sentinel.conf": renderSentinelTemplate(cfg), "users.acl": renderAclUsers(), "sentinel-users.acl": renderSentinelAclUsers() };
    const scripts = readScripts();
    const config = new k8s.core.v1.ConfigMap(
      "redis-config",
      { metadata: { name: "redis-config", namespace, labels }, data: configFiles },
      child,
    );
    const scriptMap = new k8s.core.v1.ConfigMap(
      "redis-scripts",
      { metadata: { name: "redis-scripts", namespace, labels }, data: scripts },
      child,
    );
    // A changed config or script rolls the pods (one at a time, with the preStop handover); so
    // does a changed password (a hash of the Secret's values, which says nothing about them).
    const checksum = crypto.createHash("sha256").update(JSON.stringify({ configFiles, scripts })).digest("hex");
    const secretChecksum = pulumi
      .all([args.redisPassword, args.sentinelPassword, ...ROLE_USERS.map((user) => args.rolePasswords[user]), ...(args.replicationTls ? [args.replicationTls.certPem] : [])])
      .apply((values) => crypto.createHash("sha256").update(JSON.stringify(values)).digest("hex"));

    const headless = new k8s.core.v1.Service(
      HEADLESS_SERVICE_NAME,
      {
        metadata: { name: HEADLESS_SERVICE_NAME, namespace, labels },
        spec: {
          clusterIP: "None",
          // Pods must resolve each other by name before they are ready (discovery runs at start).
          publishNotReadyAddresses: true,
          selector,
          ports: [
            { name: "redis", port: REDIS_PORT, targetPort: "redis" },
            { name: "sentinel", port: SENTINEL_PORT, targetPort: "sentinel" },
          ],
        },
      },
      child,
    );

    // Headless: the name resolves to every Sentinel, which the client tries in turn. A pod's
    // readiness follows Redis (a replica whose master link is down is unready), so without
    // publishNotReadyAddresses this name could resolve to nothing exactly while the master is
    // down, when the app needs Sentinel most. Reachability of Sentinel never depends on Redis.
    const sentinelService = new k8s.core.v1.Service(
      SENTINEL_SERVICE_NAME,
      {
        metadata: { name: SENTINEL_SERVICE_NAME, namespace, labels },
        spec: {
          clusterIP: "None",
          publishNotReadyAddresses: true,
          selector,
          ports: [{ name: "sentinel", port: SENTINEL_PORT, targetPort: "sentinel" }],
        },
      },
      child,
    );

    this.statefulSet = new k8s.apps.v1.StatefulSet(
      STATEFULSET_NAME,
      {
        metadata: { name: STATEFULSET_NAME, namespace, labels },
        spec: {
          serviceName: headless.metadata.name,
          replicas: cfg.redisReplicas,
          // All pods start together: each one's role comes from Sentinel, not from its ordinal.
          podManagementPolicy: "Parallel",
          updateStrategy: { type: "RollingUpdate" },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
          selector: { matchLabels: selector },
          template: redisPodTemplate({
            settings: cfg,
            namespace,
            labels,
            selector,
            annotations: { "redis-dr/config-checksum": checksum, "redis-dr/secret-checksum": secretChecksum },
            secretName: secret.metadata.name,
            configMapName: config.metadata.name,
            scriptsMapName: scriptMap.metadata.name,
            ...(args.seed ? { seed: args.seed } : {}),
            ...(tlsSecret ? { replicationTlsSecretName: tlsSecret.metadata.name } : {}),
          }),
          volumeClaimTemplates: [
            {
              metadata: { name: "data", labels },
              spec: {
                accessModes: ["ReadWriteOnce"],
                storageClassName: cfg.storageClass,
                resources: { requests: { storage: cfg.volumeSize } },
              },
            },
          ],
        },
      },
      // Protected: volumeClaimTemplates are replace-only, and a replacement stops every pod at once.
      { ...child, protect: true, dependsOn: [headless, config, scriptMap, secret, ...(tlsSecret ? [tlsSecret] : [])] },
    );

    oneAtATime("redis", { namespace, labels, selector: selector }, child);

    isolatingPolicy(
      "redis",
      {
        namespace,
        labels,
        selector,
        ingress: [
          {
            from: [{ podSelector: { matchLabels: selector } }, ...args.clientSelectors.map((matchLabels) => ({ podSelector: { matchLabels } }))],
            ports: [
              { protocol: "TCP", port: REDIS_PORT },
              { protocol: "TCP", port: SENTINEL_PORT },
            ],
          },
          // The replication endpoint's relay: the master lookup, and the standby's TLS stream.
          ...(cfg.replicationEndpoint
            ? [{ from: [{ podSelector: { matchLabels: RELAY_SELECTOR } }], ports: [SENTINEL_PORT, REPLICATION_TLS_PORT].map((port) => ({ protocol: "TCP", port })) }]
            : []),
          {
            from: [{ namespaceSelector: { matchLabels: namespaceLabel(cfg.monitoringNamespace) } }],
            ports: [
              { protocol: "TCP", port: EXPORTER_PORTS.redis },
              { protocol: "TCP", port: EXPORTER_PORTS.sentinel },
            ],
          },
        ],
        // Replication and Sentinel gossip between the pods, lookups, and with a seed the backup bucket.
        egress: [
          dnsEgress(),
          podEgress(selector, [REDIS_PORT, SENTINEL_PORT]),
          ...(args.seed ? [endpointEgress(args.seed.store.endpoint)] : []),
        ],
      },
      child,
    );

    this.secretName = secret.metadata.name;
    this.sentinelServiceName = sentinelService.metadata.name;
    this.connection = {
      sentinelHost: pulumi.interpolate`${sentinelService.metadata.name}.${namespace}.svc.cluster.local`,
      sentinelPort: SENTINEL_PORT,
      redisPort: REDIS_PORT,
      podSelector: selector,
      masterName: cfg.masterName,
      username: "app",
      secretName: this.secretName,
      secretKeys: CLIENT_SECRET_KEYS,
      credentialsChecksum: pulumi
        .all([args.sentinelPassword, args.rolePasswords.app])
        .apply(([sentinel, app]) => crypto.createHash("sha256").update(`${sentinel}\n${firstPassword(app)}`).digest("hex")),
    };
    this.scripts = { configMapName: scriptMap.metadata.name, secretName: this.secretName };
    this.registerOutputs({ secretName: this.secretName, sentinelServiceName: this.sentinelServiceName });
  }
}
