import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  HEADLESS_SERVICE_NAME,
  POD_PATHS,
  readScripts,
  REDIS_PORT,
  REDIS_UID,
  RedisSettings,
  renderRedisConf,
  renderSentinelTemplate,
  scriptEnvironment,
  roleSecretKeys,
  SECRET_KEYS,
  SECRET_NAME,
  SENTINEL_PORT,
  SENTINEL_SERVICE_NAME,
  STATEFULSET_NAME,
} from "./redis/render";
import { ACL_USERS, firstPassword, renderAclUsers, ROLE_USERS, RoleUser } from "./redis/acl";
import { EXPORTER_PORTS, exporterContainers } from "./redis/exporters";
import { labelsFor, selectorFor } from "./labels";
import { restrictedContainerSecurity, restrictedPodSecurity, shortNodeFailureTolerations } from "./security";
import { BackupStoreRef, RCLONE_ENV, rcloneToolsContainer, storeEnv, TOOLS_VOLUME } from "./backup/backupJob";

export const REDIS_COMPONENT = "redis";

/**
 * The promotion follower is bash plus one idle redis-cli subscriber per Sentinel: measured
 * locally at 31 MiB RSS summed over its 7 processes (shared library pages counted in each),
 * so 64Mi leaves room for its short-lived redis-cli calls during a failover.
 */
const PROMOTION_FOLLOWER_RESOURCES = { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "64Mi" } };

/** Keys of the Redis Secret a client reads: Sentinel's password and the app user's. */
export const CLIENT_SECRET_KEYS = { sentinelPassword: SECRET_KEYS.sentinelPassword, appPassword: roleSecretKeys("app").current } as const;

/** How a client reaches this Redis tier: what the app's Deployment is built from. */
export interface RedisConnection {
  /** DNS name of the Sentinel Service; it resolves to every Sentinel pod, ready or not. */
  sentinelHost: pulumi.Output<string>;
  sentinelPort: number;
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
}

/** What the restore init container needs: the bucket to read, which backup, and rclone. */
export interface SeedFromBackup {
  store: BackupStoreRef;
  /** latest (the newest verified backup) or a backup id. */
  backup: string;
  rcloneImage: string;
}

/** What other workloads that run the pod scripts (the backup job) mount and read. */
export interface RedisPodScripts {
  configMapName: pulumi.Output<string>;
  secretName: pulumi.Output<string>;
  secretKeys: typeof SECRET_KEYS;
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

    const configFiles = { "redis.conf": renderRedisConf(cfg), "sentinel.conf": renderSentinelTemplate(cfg), "users.acl": renderAclUsers() };
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
      .all([args.redisPassword, args.sentinelPassword, ...ROLE_USERS.map((user) => args.rolePasswords[user])])
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

    const secretEnv = (envName: string, key: string): k8s.types.input.core.v1.EnvVar => ({
      name: envName,
      valueFrom: { secretKeyRef: { name: secret.metadata.name, key } },
    });
    const env: k8s.types.input.core.v1.EnvVar[] = [
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      {
        name: "POD_FQDN",
        value: pulumi.interpolate`$(POD_NAME).${HEADLESS_SERVICE_NAME}.${namespace}.svc.cluster.local`,
      },
      ...Object.entries(scriptEnvironment(cfg)).map(([name, value]) => ({ name, value })),
      { name: "DATA_DIR", value: POD_PATHS.data },
      { name: "CONFIG_DIR", value: POD_PATHS.config },
      { name: "RUNTIME_DIR", value: POD_PATHS.runtime },
      secretEnv("REDIS_PASSWORD", SECRET_KEYS.redisPassword),
      secretEnv("SENTINEL_PASSWORD", SECRET_KEYS.sentinelPassword),
      ...ROLE_USERS.map((user) => secretEnv(ACL_USERS[user].variable, roleSecretKeys(user).accepted)),
    ];
    const mounts: k8s.types.input.core.v1.VolumeMount[] = [
      { name: "data", mountPath: POD_PATHS.data },
      { name: "config", mountPath: POD_PATHS.config, readOnly: true },
      { name: "scripts", mountPath: POD_PATHS.scripts, readOnly: true },
    ];
    const exec = (script: string, ...args: string[]) => ({ exec: { command: ["bash", `${POD_PATHS.scripts}/${script}`, ...args] } });

    // Loading a large AOF and waiting for Sentinel to promote a replica both happen before Redis answers.
    const startupBudgetSeconds = 600;
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
          template: {
            metadata: { labels, annotations: { "redis-dr/config-checksum": checksum, "redis-dr/secret-checksum": secretChecksum } },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              terminationGracePeriodSeconds: cfg.redisTerminationGraceSeconds,
              securityContext: restrictedPodSecurity(REDIS_UID),
              affinity: {
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: [
                    { labelSelector: { matchLabels: selector }, topologyKey: "kubernetes.io/hostname" },
                  ],
                },
              },
              tolerations: shortNodeFailureTolerations(cfg.notReadyTolerationSeconds),
              // Only with restoreFrom: the first pod of an empty deployment loads the backup into
              // its volume before Redis starts (backup.sh seed decides; it never overwrites data).
              ...(args.seed
                ? {
                    initContainers: [
                      rcloneToolsContainer(args.seed.rcloneImage),
                      {
                        name: "restore",
                        image: cfg.redisImage,
                        imagePullPolicy: "IfNotPresent",
                        command: ["bash", `${POD_PATHS.scripts}/backup.sh`, "seed"],
                        env: [...env, ...storeEnv(args.seed.store), { name: "RESTORE_BACKUP", value: args.seed.backup }, RCLONE_ENV, { name: "SCRATCH_DIR", value: `${POD_PATHS.data}/seed-scratch` }],
                        resources: { requests: { cpu: cfg.redisCpu, memory: cfg.redisMemory }, limits: { memory: cfg.redisMemory } },
                        securityContext: restrictedContainerSecurity(),
                        volumeMounts: [...mounts, { name: "tools", mountPath: "/tools", readOnly: true }],
                      },
                    ],
                  }
                : {}),
              containers: [
                {
                  name: "redis",
                  image: cfg.redisImage,
                  imagePullPolicy: "IfNotPresent",
                  command: ["bash", `${POD_PATHS.scripts}/start-redis.sh`],
                  env,
                  ports: [{ name: "redis", containerPort: REDIS_PORT }],
                  resources: {
                    requests: { cpu: cfg.redisCpu, memory: cfg.redisMemory },
                    limits: { memory: cfg.redisMemory },
                  },
                  startupProbe: { ...exec("probe-redis.sh", "liveness"), periodSeconds: 5, timeoutSeconds: 4, failureThreshold: startupBudgetSeconds / 5 },
                  livenessProbe: { ...exec("probe-redis.sh", "liveness"), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                  readinessProbe: { ...exec("probe-redis.sh", "readiness"), periodSeconds: 5, timeoutSeconds: 4, failureThreshold: 2, successThreshold: 1 },
                  lifecycle: { preStop: exec("prestop-redis.sh") },
                  securityContext: restrictedContainerSecurity(),
                  volumeMounts: [...mounts, { name: "runtime", mountPath: POD_PATHS.runtime }],
                },
                {
                  name: "sentinel",
                  image: cfg.redisImage,
                  imagePullPolicy: "IfNotPresent",
                  command: ["bash", `${POD_PATHS.scripts}/start-sentinel.sh`],
                  env,
                  ports: [{ name: "sentinel", containerPort: SENTINEL_PORT }],
                  resources: {
                    requests: { cpu: cfg.sentinelCpu, memory: cfg.sentinelMemory },
                    limits: { memory: cfg.sentinelMemory },
                  },
                  startupProbe: { ...exec("probe-sentinel.sh", "liveness"), periodSeconds: 5, timeoutSeconds: 4, failureThreshold: 60 },
                  livenessProbe: { ...exec("probe-sentinel.sh", "liveness"), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                  readinessProbe: { ...exec("probe-sentinel.sh", "readiness"), periodSeconds: 5, timeoutSeconds: 4, failureThreshold: 2 },
                  lifecycle: { preStop: exec("prestop-sentinel.sh") },
                  securityContext: restrictedContainerSecurity(),
                  volumeMounts: mounts,
                },
                {
                  // Moves this pod's replica to the replica Sentinel promotes as soon as the
                  // leader announces it (follow-promotion.sh says why); no port, no probes.
                  name: "promotion-follower",
                  image: cfg.redisImage,
                  imagePullPolicy: "IfNotPresent",
                  command: ["bash", `${POD_PATHS.scripts}/follow-promotion.sh`],
                  env,
                  resources: PROMOTION_FOLLOWER_RESOURCES,
                  securityContext: restrictedContainerSecurity(),
                  volumeMounts: mounts,
                },
                ...exporterContainers(cfg, secret.metadata.name),
              ],
              volumes: [
                { name: "config", configMap: { name: config.metadata.name } },
                { name: "scripts", configMap: { name: scriptMap.metadata.name, defaultMode: 0o555 } },
                // Holds the generated redis.conf with the password: memory-backed, never on disk.
                { name: "runtime", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
                ...(args.seed ? [TOOLS_VOLUME] : []),
              ],
            },
          },
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
      { ...child, protect: true, dependsOn: [headless, config, scriptMap, secret] },
    );

    new k8s.policy.v1.PodDisruptionBudget(
      "redis",
      { metadata: { name: "redis", namespace, labels }, spec: { maxUnavailable: 1, selector: { matchLabels: selector } } },
      child,
    );

    new k8s.networking.v1.NetworkPolicy(
      "redis",
      {
        metadata: { name: "redis", namespace, labels },
        spec: {
          podSelector: { matchLabels: selector },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [{ podSelector: { matchLabels: selector } }, ...args.clientSelectors.map((matchLabels) => ({ podSelector: { matchLabels } }))],
              ports: [
                { protocol: "TCP", port: REDIS_PORT },
                { protocol: "TCP", port: SENTINEL_PORT },
              ],
            },
            {
              from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": cfg.monitoringNamespace } } }],
              ports: [
                { protocol: "TCP", port: EXPORTER_PORTS.redis },
                { protocol: "TCP", port: EXPORTER_PORTS.sentinel },
              ],
            },
          ],
        },
      },
      child,
    );

    this.secretName = secret.metadata.name;
    this.sentinelServiceName = sentinelService.metadata.name;
    this.connection = {
      sentinelHost: pulumi.interpolate`${sentinelService.metadata.name}.${namespace}.svc.cluster.local`,
      sentinelPort: SENTINEL_PORT,
      masterName: cfg.masterName,
      username: "app",
      secretName: this.secretName,
      secretKeys: CLIENT_SECRET_KEYS,
      credentialsChecksum: pulumi
        .all([args.sentinelPassword, args.rolePasswords.app])
        .apply(([sentinel, app]) => crypto.createHash("sha256").update(`${sentinel}\n${firstPassword(app)}`).digest("hex")),
    };
    this.scripts = { configMapName: scriptMap.metadata.name, secretName: this.secretName, secretKeys: SECRET_KEYS };
    this.registerOutputs({ secretName: this.secretName, sentinelServiceName: this.sentinelServiceName });
  }
}
