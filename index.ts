import * as pulumi from "@pulumi/pulumi";
import { readStackSettings } from "./config/stack";
import { ROLE_PASSWORD_KEYS } from "./config/load";
import { Cluster, poolAutoscaler } from "./infra/cluster";
import { dataShape } from "./config/dataShape";
import { DataShapeGuard, dependOnGuard } from "./infra/dataShapeGuard";
import { linodeNames, stackTags } from "./infra/names";
import { NodeFirewall } from "./infra/nodeFirewall";
import { PublicEntry } from "./infra/publicEntry";
import { BACKUP_NONCURRENT_DAYS, BackupStore } from "./infra/backupStore";
import { archiveTiming, backupSettings } from "./k8s/backup/settings";
import { redisSettings } from "./k8s/redis/render";
import { Workloads } from "./k8s/workloads";

// Validate first: a bad config or stack name fails here, before any resource is registered.
const { cfg, secrets } = readStackSettings();
const stack = pulumi.getStack();
const names = linodeNames(stack);
const tags = stackTags(cfg.tags, stack);

// First: a config change that would replace what holds data is refused here, before any
// resource that depends on the guard is touched.
const guard = new DataShapeGuard("data-shape", { shape: dataShape(cfg), acknowledged: cfg.acknowledgeReplacement });
const guarded = { transformations: [dependOnGuard(guard)] };

const cluster = new Cluster("lke", {
  label: names.cluster,
  region: cfg.region,
  k8sVersion: cfg.k8sVersion,
  tags,
  pool: { type: cfg.nodeType, count: cfg.nodeCount, autoscaler: poolAutoscaler(cfg.autoscalerMin, cfg.autoscalerMax) },
  haControlPlane: cfg.haControlPlane,
  apiAllowedCidrs: cfg.controlPlaneAllowedCidrs,
}, guarded);

const entry = new PublicEntry("public", {
  mode: cfg.publicEntry,
  region: cfg.region,
  labels: { nodeBalancer: names.nodeBalancer, firewall: names.firewall },
  tags,
  publicPort: cfg.publicPort,
  ingressCidrs: cfg.publicIngressCidrs,
}, guarded);

const backupStore = new BackupStore("backups", {
  region: cfg.backupRegion,
  labelPrefix: `${names.cluster}-backups`,
  noncurrentDays: BACKUP_NONCURRENT_DAYS,
  ...(cfg.restoreFrom ? { restoreFrom: { bucket: cfg.restoreFrom.bucket, region: cfg.restoreFrom.region } } : {}),
}, guarded);

// The standby region's way in (docs/standby.md): a reserved address whose NodeBalancer the CCM
// creates with a firewall that admits only the standby's addresses.
const replicationEntry = cfg.replicationEndpoint
  ? new PublicEntry("replication", {
      mode: "reserved-ip",
      region: cfg.region,
      labels: { nodeBalancer: `${names.nodeBalancer}-replication`, firewall: `${names.firewall}-replication` },
      tags,
      publicPort: cfg.replicationEndpoint.port,
      ingressCidrs: cfg.replicationEndpoint.allowedCidrs,
      resourceName: "replication",
    }, guarded)
  : undefined;

const k8sProvider = { providers: { kubernetes: cluster.provider }, ...guarded };
new NodeFirewall("nodes", {}, k8sProvider);

const workloads = new Workloads(
  "workloads",
  {
    namespace: cfg.namespace,
    redis: redisSettings(cfg),
    ...(secrets.redisPassword ? { redisPassword: secrets.redisPassword } : {}),
    ...(secrets.sentinelPassword ? { sentinelPassword: secrets.sentinelPassword } : {}),
    rolePasswords: Object.fromEntries(
      Object.entries(ROLE_PASSWORD_KEYS).flatMap(([user, key]) => (secrets[key] ? [[user, secrets[key]]] : [])),
    ),
    ...(secrets.apiTokens ? { apiTokens: secrets.apiTokens } : {}),
    app: {
      image: cfg.appImage,
      replicas: cfg.appReplicas,
      containerPort: cfg.appPort,
      probePort: cfg.appProbePort,
      monitoringNamespace: cfg.monitoringNamespace,
      cpu: cfg.appCpu,
      memory: cfg.appMemory,
      waitReplicas: cfg.appWaitReplicas,
      waitTimeoutMs: cfg.appWaitTimeoutMs,
      requestTimeoutMs: cfg.appRequestTimeoutMs,
      idempotencyKeepSeconds: cfg.appIdempotencyKeepSeconds,
      notReadyTolerationSeconds: cfg.notReadyTolerationSeconds,
      publicPort: cfg.publicPort,
      ...(cfg.publicTlsSecret ? { tlsSecretName: cfg.publicTlsSecret } : {}),
      loadBalancer: entry.binding,
      loadBalancerTimeoutSeconds: cfg.loadBalancerTimeoutSeconds,
      kubeconfig: cluster.kubeconfig,
    },
    prometheusOperator: cfg.prometheusOperator,
    ...(cfg.replicationEndpoint && replicationEntry
      ? { replicationEndpoint: { port: cfg.replicationEndpoint.port, loadBalancer: replicationEntry.binding, stack } }
      : {}),
    backup: {
      settings: backupSettings(cfg),
      archiveTiming: archiveTiming(cfg),
      store: backupStore.access,
      rcloneImage: cfg.backupImage,
      archiverImage: cfg.archiverImage,
      ...(cfg.backupPushgateway ? { pushgateway: cfg.backupPushgateway } : {}),
      ...(cfg.restoreFrom ? { restoreFrom: cfg.restoreFrom } : {}),
    },
  },
  k8sProvider,
);

export const clusterId = cluster.cluster.id;
export const kubeconfig = cluster.kubeconfig;
export const publicEntryMode = cfg.publicEntry;
/** The public IPv4 in both modes: the NodeBalancer's (pulumi) or the reserved address the CCM puts it on. */
export const nodeBalancerIpv4 = entry.binding.ipv4;
export const nodeBalancerHostname = entry.nodeBalancer?.hostname;
const scheme = cfg.publicTlsSecret ? "https" : "http";
const defaultPort = cfg.publicTlsSecret ? 443 : 80;
export const publicUrl = pulumi.interpolate`${scheme}://${entry.binding.ipv4}${cfg.publicPort === defaultPort ? "" : `:${cfg.publicPort}`}/`;
export const namespace = workloads.namespace;
export const sentinelService = workloads.sentinelServiceName;
export const appService = workloads.appServiceName;
/** The newest API bearer token (the last of apiTokens, or the generated one): `pulumi stack output --show-secrets apiToken`. */
export const apiToken = pulumi.secret(workloads.apiTokens.apply((t) => t.split(",").at(-1)!));
/** Where the backups are; a stack restoring after losing this one names them in restoreFrom. */
export const backupBucket = backupStore.access.bucket;
export const backupRegion = cfg.backupRegion;
export const backupEndpoint = backupStore.access.endpoint;
/** With replicationEndpoint: where and how a standby region follows this one (the standby's StackReference reads these). */
export const replicationEndpoint = replicationEntry ? pulumi.interpolate`${replicationEntry.binding.ipv4}:${cfg.replicationEndpoint!.port}` : undefined;
export const replicationCaCert = workloads.standbyCredentials?.tls.caCertPem;
export const replicationClientCert = workloads.standbyCredentials?.tls.certPem;
export const replicationClientKey = workloads.standbyCredentials ? pulumi.secret(workloads.standbyCredentials.tls.keyPem) : undefined;
export const standbyPassword = workloads.standbyCredentials?.password;
