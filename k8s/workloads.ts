import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { APP_SELECTOR, AppTier, AppTierArgs } from "./appTier";
import { Monitoring } from "./monitoring";
import { RedisSettings } from "./redis/render";
import { firstPassword, ROLE_USERS, RoleUser } from "./redis/acl";
import { REDIS_COMPONENT, RedisTier } from "./redisTier";
import { selectorFor, labelsFor } from "./labels";
import { BACKUP_COMPONENT, BACKUP_SELECTOR, BackupJob } from "./backup/backupJob";
import { ArchiveTiming, BackupSettings, STORE_SECRET_KEYS, STORE_SECRET_NAME, StoreLocation } from "./backup/settings";
import { ARCHIVER_SELECTOR, ArchiverDeployment } from "./archive/archiverDeployment";
import type { SeedChoice } from "./redis/podEnvironment";
import { LoadBalancerBinding } from "../infra/publicEntry";
import { ReplicationEndpoint } from "./standby/replicationEndpoint";
import { ReplicationTls, TlsIdentity } from "./standby/replicationTls";

export interface WorkloadsArgs {
  /** Namespace every workload lives in (created here). */
  namespace: string;
  /** The Redis tier's settings: exactly the keys in REDIS_SETTING_KEYS. */
  redis: RedisSettings;
  /** Secret config values; a strong random password is generated for any left unset. */
  redisPassword?: pulumi.Output<string>;
  sentinelPassword?: pulumi.Output<string>;
  /** Redis role users' passwords (comma-separated lists); one is generated for any left unset. */
  rolePasswords?: Partial<Record<RoleUser, pulumi.Output<string>>>;
  /** The public API's bearer tokens, comma-separated; one 48-character token is generated if unset. */
  apiTokens?: pulumi.Output<string>;
  /** The app tier, less what the Redis tier and the tokens above hand it. */
  app: Omit<AppTierArgs, "namespace" | "redis" | "apiTokens">;
  /** Create the prometheus-operator objects (needs its CRDs). */
  prometheusOperator: boolean;
  backup: WorkloadsBackupArgs;
  /** Serve the replication stream to a standby region (exactly when redis.replicationEndpoint is set). */
  replicationEndpoint?: { port: number; loadBalancer: LoadBalancerBinding; stack: string };
}

/** What a standby region needs to follow this one: its client identity and the `standby` user's password (secrets). */
export interface StandbyCredentials {
  tls: TlsIdentity;
  password: pulumi.Output<string>;
}

/** Backups: where they go (a bucket in another region and its key) and how often. */
export interface WorkloadsBackupArgs {
  settings: BackupSettings;
  store: { endpoint: pulumi.Input<string>; bucket: pulumi.Input<string>; region: string; accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> };
  rcloneImage: string;
  /** The archiver image (app/Dockerfile's archiver target). */
  archiverImage: string;
  pushgateway?: string;
  /** Seed an empty deployment from this bucket's backup (the key must be able to read it). */
  restoreFrom?: StoreLocation & SeedChoice;
  /** The continuous archive into the same bucket: how soon an acknowledged write is stored. */
  archiveTiming: ArchiveTiming;
}

function passwordOrGenerated(name: string, configured: pulumi.Output<string> | undefined, parent: pulumi.Resource, length = 40) {
  if (configured) return pulumi.secret(configured);
  // Alphanumeric only: the value goes verbatim into redis.conf and sentinel.conf, and a token into a header.
  return new random.RandomPassword(name, { length, special: false }, { parent }).result;
}

/** Everything inside the cluster: namespace, the Redis tier and the app tier. */
export class Workloads extends pulumi.ComponentResource {
  readonly namespace: pulumi.Output<string>;
  readonly sentinelServiceName: pulumi.Output<string>;
  readonly appServiceName: pulumi.Output<string>;
  /** The public API's bearer tokens, comma-separated (a secret). */
  readonly apiTokens: pulumi.Output<string>;
  /** With a replication endpoint: what the standby stack reads from this one. */
  readonly standbyCredentials?: StandbyCredentials;

  constructor(name: string, args: WorkloadsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:Workloads", name, {}, opts);
    const child = { parent: this };

    const namespace = new k8s.core.v1.Namespace(
      args.namespace,
      {
        metadata: {
          name: args.namespace,
          labels: {
            "app.kubernetes.io/part-of": "redis-dr",
            // Every pod here meets the restricted Pod Security Standard; enforce it.
            "pod-security.kubernetes.io/enforce": "restricted",
          },
        },
      },
      // Deleting the namespace deletes the Redis volume claims with it.
      { ...child, protect: true },
    );

    const { backup } = args;
    const storeSecret = new k8s.core.v1.Secret(
      STORE_SECRET_NAME,
      {
        metadata: { name: STORE_SECRET_NAME, namespace: namespace.metadata.name, labels: labelsFor(BACKUP_COMPONENT) },
        type: "Opaque",
        stringData: {
          [STORE_SECRET_KEYS.accessKeyId]: pulumi.secret(backup.store.accessKeyId),
          [STORE_SECRET_KEYS.secretAccessKey]: pulumi.secret(backup.store.secretAccessKey),
        },
      },
      child,
    );

    const redisPassword = passwordOrGenerated("redis-password", args.redisPassword, this);
    const sentinelPassword = passwordOrGenerated("sentinel-password", args.sentinelPassword, this);
    const rolePasswords = Object.fromEntries(
      ROLE_USERS.map((user) => [user, passwordOrGenerated(`redis-${user}-password`, args.rolePasswords?.[user], this)]),
    ) as Record<RoleUser, pulumi.Output<string>>;
    const replicationTls = args.replicationEndpoint ? new ReplicationTls("replication-tls", { stack: args.replicationEndpoint.stack }, child) : undefined;
    const redis = new RedisTier(
      "redis",
      {
        settings: args.redis,
        namespace: namespace.metadata.name,
        redisPassword,
        sentinelPassword,
        rolePasswords,
        ...(replicationTls ? { replicationTls: replicationTls.server } : {}),
        clientSelectors: [APP_SELECTOR, BACKUP_SELECTOR, ARCHIVER_SELECTOR],
        ...(backup.restoreFrom
          ? {
              seed: {
                store: { ...backup.restoreFrom, secretName: storeSecret.metadata.name },
                backup: backup.restoreFrom.backup,
                allowSuspect: backup.restoreFrom.allowSuspect,
                ...(backup.restoreFrom.at ? { at: backup.restoreFrom.at } : {}),
                ...(backup.restoreFrom.skip ? { skip: backup.restoreFrom.skip } : {}),
                ...(backup.restoreFrom.allowGap ? { allowGap: true } : {}),
                rcloneImage: backup.rcloneImage,
                archiverImage: backup.archiverImage,
              },
            }
          : {}),
      },
      child,
    );

    new BackupJob(
      "backup",
      {
        namespace: namespace.metadata.name,
        settings: backup.settings,
        redis: args.redis,
        scripts: redis.scripts,
        store: { endpoint: backup.store.endpoint, bucket: backup.store.bucket, region: backup.store.region, secretName: storeSecret.metadata.name },
        rcloneImage: backup.rcloneImage,
        archiverImage: backup.archiverImage,
        ...(backup.pushgateway ? { pushgateway: backup.pushgateway } : {}),
        redisPods: { selector: redis.connection.podSelector, ports: [redis.connection.redisPort, redis.connection.sentinelPort] },
      },
      { ...child, dependsOn: [redis] },
    );

    new ArchiverDeployment(
      "archiver",
      {
        namespace: namespace.metadata.name,
        image: backup.archiverImage,
        rcloneImage: backup.rcloneImage,
        redis: args.redis,
        scripts: redis.scripts,
        store: { endpoint: backup.store.endpoint, bucket: backup.store.bucket, region: backup.store.region, secretName: storeSecret.metadata.name },
        timing: backup.archiveTiming,
        redisPods: { selector: redis.connection.podSelector },
        ...(backup.pushgateway ? { pushgateway: backup.pushgateway } : {}),
      },
      { ...child, dependsOn: [redis] },
    );

    this.apiTokens = passwordOrGenerated("api-token", args.apiTokens, this, 48);
    const app = new AppTier(
      "app",
      { ...args.app, namespace: namespace.metadata.name, redis: redis.connection, apiTokens: this.apiTokens },
      { ...child, dependsOn: [redis] },
    );

    if (args.replicationEndpoint && replicationTls) {
      new ReplicationEndpoint(
        "replication",
        {
          namespace: namespace.metadata.name,
          image: args.app.image,
          redis: redis.connection,
          relayPasswords: rolePasswords.relay,
          port: args.replicationEndpoint.port,
          loadBalancer: args.replicationEndpoint.loadBalancer,
          notReadyTolerationSeconds: args.app.notReadyTolerationSeconds,
        },
        { ...child, dependsOn: [redis] },
      );
      this.standbyCredentials = { tls: replicationTls.client, password: pulumi.secret(rolePasswords.standby.apply(firstPassword)) };
    }

    if (args.prometheusOperator) {
      new Monitoring(
        "monitoring",
        { namespace: namespace.metadata.name, redisSelector: selectorFor(REDIS_COMPONENT), appSelector: APP_SELECTOR },
        { ...child, dependsOn: [redis, app] },
      );
    }

    this.namespace = namespace.metadata.name;
    this.sentinelServiceName = redis.sentinelServiceName;
    this.appServiceName = app.serviceName;
    this.registerOutputs({ namespace: this.namespace });
  }
}
