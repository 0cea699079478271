import { CronExpressionParser } from "cron-parser";
import { cidr } from "./cidr";
import { DATA_SHAPE_KEYS, DataShapeKey } from "./dataShape";
import { replicationConfigProblems, replicationConfigShape } from "./replicationSchema";
import { z } from "zod";

/**
 * The whole stack config for one environment. Every key lives under the
 * `redis-dr:` namespace in Pulumi.<stack>.yaml; the README's config reference
 * is generated from the `describe` texts below, so keep them precise.
 */

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$/;
// registry/path:tag or registry/path@sha256:digest (or both); never an implicit or `latest` tag.
const IMAGE =
  /^(?:(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[0-9]+)?)\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// Characters that survive redis.conf and sentinel.conf parsing without quoting.
const PASSWORD = /^[A-Za-z0-9!#%+,\-./:=@^_~]{16,128}$/;

export function parseImage(image: string): { tag?: string; digest?: boolean } | undefined {
  const match = IMAGE.exec(image);
  if (!match) return undefined;
  return { tag: match[1], digest: image.includes("@sha256:") };
}

const pinnedImage = (key: string) =>
  z.string().superRefine((image, ctx) => {
    const parsed = parseImage(image);
    if (!parsed) {
      ctx.addIssue({ code: "custom", message: `"${image}" is not a valid image reference; use registry/name:tag, e.g. redis:7.4.7-bookworm` });
    } else if (!parsed.tag && !parsed.digest) {
      ctx.addIssue({ code: "custom", message: `"${image}" has no tag; pin a version (name:1.2.3) or a digest (name@sha256:...) so every pod runs the same build` });
    } else if (parsed.tag === "latest" && !parsed.digest) {
      ctx.addIssue({ code: "custom", message: `"${image}" uses the moving "latest" tag; pin a version so a restart cannot change the ${key} build` });
    }
  });

/**
 * Patched floors per Redis release line for CVE-2025-49844 (Lua use-after-free, remote code
 * execution) and CVE-2025-46817/46818/46819, from the Redis release notes (7.4.6 and 7.2.11,
 * 8.0.4 and 8.2.2 carry the fixes). Lines before 7.2 are not supported: the drills cover 7.x.
 */
export const REDIS_PATCHED_FLOORS: Record<string, [number, number, number]> = {
  "7.2": [7, 2, 11],
  "7.4": [7, 4, 6],
  "8.0": [8, 0, 4],
  "8.2": [8, 2, 2],
};
/** The first redis_exporter with --disable-scrape-endpoint (oliver006/redis_exporter #1106). */
export const EXPORTER_FLOOR: [number, number, number] = [1, 83, 0];

/** Why a redis_exporter image cannot be run with /scrape off, or undefined when it can. */
export function exporterImageProblem(image: string): string | undefined {
  const version = /^v?(\d+)\.(\d+)\.(\d+)/.exec(parseImage(image)?.tag ?? "");
  const floor = `v${EXPORTER_FLOOR.join(".")}`;
  if (!version) return `"${image}" carries no version in its tag, so it cannot be checked for --disable-scrape-endpoint (${floor} and later); pin e.g. oliver006/redis_exporter:v1.90.0`;
  const [major, minor, patch] = version.slice(1, 4).map(Number) as [number, number, number];
  const below = major !== EXPORTER_FLOOR[0] ? major < EXPORTER_FLOOR[0] : minor !== EXPORTER_FLOOR[1] ? minor < EXPORTER_FLOOR[1] : patch < EXPORTER_FLOOR[2];
  return below ? `"${image}" predates --disable-scrape-endpoint (${floor}): its /scrape endpoint would connect anywhere with the monitor password; use ${floor} or later` : undefined;
}

const REDIS_CVES = "CVE-2025-49844 (Lua use-after-free, remote code execution) and CVE-2025-46817/46818/46819";

/** Why a Redis image tag is below the patched floor, or undefined when it is not. */
export function redisImageVulnerability(image: string): string | undefined {
  const tag = parseImage(image)?.tag;
  const version = tag ? /^(\d+)\.(\d+)\.(\d+)/.exec(tag) : null;
  if (!version) {
    return `"${image}" carries no Redis version in its tag, so it cannot be checked against ${REDIS_CVES}; pin name:7.4.7-bookworm (optionally with @sha256:...)`;
  }
  const [major, minor, patch] = version.slice(1, 4).map(Number) as [number, number, number];
  if (major < 7 || (major === 7 && minor < 2)) return `"${image}" is Redis ${major}.${minor}, a line this project does not support or test; use 7.4.7 or later on the 7.4 line`;
  const floor = REDIS_PATCHED_FLOORS[`${major}.${minor}`];
  if (floor && patch < floor[2]) {
    return `"${image}" is affected by ${REDIS_CVES}, fixed in ${floor.join(".")}; use ${floor[0]}.${floor[1]}.${floor[2]} or later (7.4.7 is what the stacks pin)`;
  }
  return undefined;
}

const quantity = (example: string) =>
  z.string().regex(QUANTITY, `must be a Kubernetes quantity such as ${example}`);

export const stackConfigShape = {
  // --- infra/: Linode ---
  region: z.string().regex(/^[a-z]{2}-[a-z]+(-[0-9]+)?$/, "must be a Linode region id such as us-ord").describe("Linode region for the LKE cluster and the NodeBalancer."),
  k8sVersion: z.string().regex(/^1\.[0-9]{2}$/, "must be an LKE Kubernetes minor version such as 1.33").describe("LKE Kubernetes version (major.minor)."),
  nodeType: z.string().regex(/^g[0-9]+-[a-z0-9-]+$/, "must be a Linode type id such as g6-standard-2").describe("Linode plan of every node in the pool."),
  nodeCount: z.number().int().min(3, "must be at least 3: the Redis pods need one node each (required anti-affinity)").describe("Nodes in the pool (at least the number of Redis pods)."),
  autoscalerMin: z.number().int().min(3, "must be at least 3: the Redis pods need one node each").optional().describe("Autoscaler lower bound; set with autoscalerMax to enable the LKE autoscaler."),
  autoscalerMax: z.number().int().max(100).optional().describe("Autoscaler upper bound; set with autoscalerMin to enable the LKE autoscaler."),
  haControlPlane: z.boolean().describe("LKE high-availability control plane (recommended for prod)."),
  tags: z.array(z.string().regex(/^[A-Za-z0-9:_.-]{3,50}$/, "tags are 3-50 characters of letters, digits, : _ . -")).default([]).describe("Extra Linode tags on the cluster and NodeBalancer (the stack name is always added)."),
  publicPort: z.number().int().min(1).max(65535).default(80).describe("Port the NodeBalancer serves the app on; the only port the Cloud Firewall admits."),
  publicTlsSecret: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be a Kubernetes object name (DNS subdomain)")
    .optional()
    .describe("Name of a kubernetes.io/tls Secret (tls.crt, tls.key) you create in the namespace: the NodeBalancer then terminates HTTPS on publicPort with it and publicUrl is https. Unset: plain HTTP."),
  allowPlainHttp: z
    .boolean()
    .default(false)
    .describe("Let an environment prod stack serve the public API without publicTlsSecret, in plain HTTP: bearer tokens and values cross the network in the clear. Only for TLS that ends in front of the NodeBalancer; preflight warns while it is on."),
  acknowledgeReplacement: z
    .array(z.enum(DATA_SHAPE_KEYS as [DataShapeKey, ...DataShapeKey[]]))
    .default([])
    .describe("Settings among region, nodeType, namespace, volumeSize, storageClass and backupRegion whose change this update may carry out although it replaces what holds data. Without it, preview and up refuse such a change and name the safe procedure (config/dataShape.ts); remove the entry once the update is done."),
  publicIngressCidrs: z.array(cidr).min(1).default(["0.0.0.0/0", "::/0"]).describe("Source ranges the Cloud Firewall admits to publicPort."),
  environment: z.enum(["dev", "prod"]).describe("What the stack is for. prod adds rules: an HA control plane, a Kubernetes API that is not open to the internet, and HTTPS on the public entry (publicTlsSecret, or allowPlainHttp)."),
  controlPlaneAllowedCidrs: z
    .array(cidr)
    .min(1, "must list at least one CIDR: the ACL is always on, so an empty list would lock out every client including `pulumi up`")
    .describe("Source ranges the LKE control plane (Kubernetes API) admits; everything else is denied. Include the deploy runners' egress addresses (see docs/linode.md, \"Reaching the Kubernetes API\")."),
  publicEntry: z
    .enum(["pulumi", "reserved-ip"])
    .default("pulumi")
    .describe("Who owns the public entry. pulumi: Pulumi creates the NodeBalancer and its firewall and the Service adopts them. reserved-ip: Pulumi reserves an IPv4 and the CCM creates the NodeBalancer on it, with a CCM-owned firewall from publicIngressCidrs (see docs/linode.md, \"Public entry modes\")."),
  loadBalancerTimeoutSeconds: z
    .number()
    .int()
    .min(60)
    .max(1800)
    .default(300)
    .describe("How long `pulumi up` waits for the app's LoadBalancer Service to get its address before it fails with a diagnosis (the Kubernetes provider's own default is 600)."),

  // --- k8s/: Redis tier ---
  namespace: z.string().regex(DNS_LABEL, "must be a DNS label: lower-case letters, digits and -").describe("Kubernetes namespace for every workload."),
  redisImage: pinnedImage("Redis")
    .superRefine((image, ctx) => {
      const problem = parseImage(image) ? redisImageVulnerability(image) : undefined;
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .describe("Redis image for the redis and sentinel containers: a pinned version tag (optionally with a digest) at or above the patched floor of its line (7.4.6 on 7.4)."),
  redisReplicas: z.number().int().min(3, "must be at least 3 so a majority of Sentinels survives one pod loss").refine((n) => n % 2 === 1, "must be odd so the Sentinels always have a strict majority").default(3).describe("Redis pods (each with a Sentinel sidecar)."),
  redisCpu: quantity("500m").describe("CPU request of each redis container (no CPU limit: throttling stalls replication and probes)."),
  redisMemory: quantity("1Gi").describe("Memory request and limit of each redis container; maxmemory is set to 70% of it to leave room for fork copy-on-write during AOF rewrite."),
  sentinelCpu: quantity("50m").default("50m").describe("CPU request of each sentinel container."),
  sentinelMemory: quantity("64Mi").default("64Mi").describe("Memory request and limit of each sentinel container."),
  volumeSize: quantity("10Gi").refine((q) => toBytes(q) >= 10 * 1024 ** 3, "must be at least 10Gi (the smallest Linode Block Storage volume)").describe("PersistentVolumeClaim size for each Redis pod's AOF and Sentinel state."),
  storageClass: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a StorageClass name").default("linode-block-storage-retain").describe("StorageClass of the Redis volumes; the -retain class keeps data when a claim is deleted."),
  masterName: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be letters, digits, _ or -").default("mymaster").describe("Name Sentinel monitors the master under (REDIS_MASTER_NAME in the app)."),
  sentinelQuorum: z.number().int().min(1).default(2).describe("Sentinels that must agree the master is down before a failover starts."),
  sentinelDownAfterMs: z
    .number()
    .int()
    .min(2000, "must be at least 2000: Sentinel pings once a second, and a shorter window flags a healthy, just-promoted master as down and fails over again")
    .describe("Milliseconds without a valid reply before a Sentinel considers an instance down: the floor of unplanned recovery time."),
  sentinelFailoverTimeoutMs: z.number().int().min(1000).default(18000).describe("Sentinel failover-timeout in milliseconds. After an aborted or split-vote failover Sentinel waits twice this long before trying again, so it bounds the worst-case recovery time."),
  sentinelParallelSyncs: z.number().int().min(1).default(1).describe("Replicas resynchronised with a new master at the same time."),
  minReplicasToWrite: z.number().int().min(0).default(1).describe("The master refuses writes unless at least this many replicas are connected (bounds writes an isolated master accepts)."),
  minReplicasMaxLagSeconds: z.number().int().min(1).default(5).describe("A replica counts towards minReplicasToWrite only if it acknowledged within this many seconds: how long a master cut off from its replicas keeps accepting writes (lost after a failover). At most sentinelDownAfterMs in seconds."),
  notReadyTolerationSeconds: z.number().int().min(0).max(300).default(30).describe("How long pods stay bound to a not-ready or unreachable node before eviction (Kubernetes default is 300)."),
  redisTerminationGraceSeconds: z.number().int().min(10).max(600).default(60).describe("Grace period for a Redis pod to hand over the master role in preStop before it is killed."),

  // --- infra/ and k8s/: backups and restore ---
  backupRegion: z
    .string()
    .regex(/^[a-z]{2}-[a-z]+(-[0-9]+)?$/, "must be a Linode region id such as us-sea")
    .describe("Linode region of the backup bucket (Object Storage). Must differ from region: the backups are what survives losing the cluster's region."),
  backupSchedule: z
    .string()
    .superRefine((schedule, ctx) => {
      const problem = cronProblem(schedule);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .default("0 * * * *")
    .describe("When the backup CronJob runs (5-field cron, UTC). The interval is the worst-case RPO of a region loss."),
  backupKeepHourly: z.number().int().min(1).max(1000).default(48).describe("Retention: the newest verified backup of each of this many most recent hours is kept (and every one of the last hour)."),
  backupKeepDaily: z.number().int().min(1).max(3650).default(30).describe("Retention: the newest verified backup of each of this many most recent days is kept."),
  backupShrinkAlarmPercent: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(50)
    .describe("A verified backup whose key count or size is this many percent below the newest trusted one is kept but marked suspect: latest and restoreFrom skip it (--allow-suspect overrides, backup accept ID trusts it) and BackupShrank fires."),
  archiveIntervalMs: z
    .number()
    .int()
    .min(200)
    .max(60000)
    .default(1000)
    .describe("The continuous archive's recovery point: every write the master acknowledges reaches the backup bucket within this long. Segments close at a quarter of it and are shipped at once (docs/archive.md)."),
  backupImage: pinnedImage("rclone")
    .default("rclone/rclone:1.68.2")
    .describe("rclone image whose binary the backup job copies into the Redis image to reach Object Storage (pinned tag or digest)."),
  backupPushgateway: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:[0-9]{1,5}$/, "must be host:port of a Prometheus Pushgateway, e.g. pushgateway.monitoring.svc:9091")
    .optional()
    .describe("host:port of a Prometheus Pushgateway the backup job and the archiver's shipper push their metrics to (the BackupTooOld, BackupFailed, ArchiveLagging and ArchiveGap alerts need them). Unset: no metrics are pushed. A NAME.NAMESPACE.svc host opens their egress to that namespace on the port, any other host to public addresses on it (docs/linode.md, \"What is exposed\")."),
  restoreFrom: z
    .object({
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a bucket name"),
      region: z.string().regex(/^[a-z]{2}-[a-z]+(-[0-9]+)?$/, "must be a Linode region id"),
      endpoint: z.string().regex(/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]+)?$/, "must be the bucket's S3 endpoint URL, e.g. https://us-sea-1.linodeobjects.com (the old stack's backupEndpoint output)"),
      backup: z.string().regex(/^(latest|[0-9]{8}T[0-9]{6}Z)$/, "must be latest or a backup id such as 20261125T230000Z").default("latest"),
      allowSuspect: z.boolean().default(false),
      at: z
        .string()
        .refine((at) => at === "latest" || (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(at) && !Number.isNaN(Date.parse(at))), "at must be latest or an RFC 3339 time such as 2026-12-04T21:30:00Z")
        .optional(),
      skip: z.array(z.number().int().positive("skip must list offsets of archived commands (backup log prints them)")).min(1).max(64).optional(),
      allowGap: z.boolean().default(false),
    })
    .strict()
    .superRefine((r, ctx) => {
      if (r.at !== undefined && r.backup !== "latest") ctx.addIssue({ code: "custom", path: ["at"], message: "with at, the base is the newest trusted backup before it: leave backup unset or latest" });
      if (r.skip !== undefined && r.at === undefined) ctx.addIssue({ code: "custom", path: ["skip"], message: "skip needs at (at: latest replays to the newest archived write)" });
      if (r.allowGap && r.at === undefined) ctx.addIssue({ code: "custom", path: ["allowGap"], message: "allowGap needs at (a backup alone replays no archive)" });
    })
    .optional()
    .describe("Seed a new, empty deployment from a backup: {bucket, region, endpoint, backup: latest or an id, allowSuspect: take a backup marked suspect (default false: latest skips them and a suspect id is refused), at: latest or an RFC 3339 time, to replay the continuous archive onto the newest trusted backup before it (latest: to the newest archived write), skip: offsets of archived commands to leave out of that replay (backup log lists them), allowGap: replay across gaps the archiver recorded (full resyncs; default false: the window ends at a gap), whose writes are then missing}, from the old stack's backupBucket, backupRegion and backupEndpoint outputs. The first Redis pod loads it before it serves; nothing is restored over existing data (see docs/disaster-recovery.md)."),

  // --- k8s/: monitoring ---
  redisExporterImage: pinnedImage("redis_exporter")
    .superRefine((image, ctx) => {
      const problem = parseImage(image) ? exporterImageProblem(image) : undefined;
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .default("oliver006/redis_exporter:v1.90.0").describe("redis_exporter image of the two metrics sidecars in each Redis pod (one for Redis on 9121, one for Sentinel on 9122); v1.83.0 or later, which can turn its /scrape endpoint off."),
  exporterCpu: quantity("20m").default("20m").describe("CPU request of each exporter sidecar."),
  exporterMemory: quantity("48Mi").default("48Mi").describe("Memory request and limit of each exporter sidecar."),
  monitoringNamespace: z.string().regex(DNS_LABEL, "must be a DNS label: lower-case letters, digits and -").default("monitoring").describe("Namespace of the Prometheus that scrapes the exporters; the Redis NetworkPolicy admits it to ports 9121 and 9122."),
  prometheusOperator: z.boolean().default(false).describe("Create a PrometheusRule (monitoring/alerts.rules.yml) and PodMonitors; needs the prometheus-operator CRDs in the cluster."),

  // --- k8s/ and app/: the C++ service ---
  appImage: pinnedImage("app").describe("Image of the C++ service built from app/Dockerfile (pinned tag or digest)."),
  archiverImage: pinnedImage("archiver").describe("Image of the continuous archive's pod built from app/Dockerfile with --target archiver (pinned tag or digest): redis-dr-archiver, and redis-dr-uploader with libcurl for the uploads, which the app image does not carry."),
  appReplicas: z.number().int().min(2, "must be at least 2 so one app pod can be lost or drained").describe("App Deployment replicas."),
  appPort: z.number().int().min(1024, "must be 1024 or above: the app runs as a non-root user").max(65535).default(8080).describe("Container port of the app's HTTP API: HTTP_PORT, the public Service's target."),
  appProbePort: z.number().int().min(1024, "must be 1024 or above: the app runs as a non-root user").max(65535).default(8081).describe("Container port of the app's /healthz, /readyz and /metrics: PROBE_PORT, never in the public Service, so public traffic cannot starve the probes; the app NetworkPolicy admits only monitoringNamespace to it (the kubelet's probes come from the node, which is always allowed)."),
  appCpu: quantity("250m").describe("CPU request of each app container."),
  appMemory: quantity("256Mi").describe("Memory request and limit of each app container."),
  appWaitReplicas: z.number().int().min(0).default(0).describe("REDIS_WAIT_REPLICAS: replicas a write must reach (WAIT) before the app acknowledges it; 0 disables."),
  appWaitTimeoutMs: z.number().int().min(1).default(500).describe("REDIS_WAIT_TIMEOUT_MS: how long the app waits for those replicas."),
  appIdempotencyKeepSeconds: z
    .number()
    .int()
    .min(1)
    .max(2592000, "must be at most 2592000 (30 days)")
    .default(3600)
    .describe("IDEMPOTENCY_KEEP_SECONDS: how long the outcome of a counter increment sent with an Idempotency-Key is kept; a retry with that key within it gets the same answer and counts nothing. Each kept outcome costs Redis memory (about 100 bytes plus the key and counter name)."),
  appRequestTimeoutMs: z.number().int().min(100).default(3000).describe("REDIS_REQUEST_TIMEOUT_MS: deadline for one Redis operation inside the app, retries and re-discovery included."),

  // --- k8s/: replication to a standby region (docs/standby.md) ---
  ...replicationConfigShape,
} as const;

export const stackConfigSchema = z
  .object(stackConfigShape)
  .strict()
  .superRefine((c, ctx) => {
    const at = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (c.nodeCount < c.redisReplicas) {
      at("nodeCount", `is ${c.nodeCount} but redisReplicas is ${c.redisReplicas}; each Redis pod needs its own node, so set nodeCount to at least ${c.redisReplicas}`);
    }
    if (c.sentinelQuorum > c.redisReplicas) {
      at("sentinelQuorum", `is ${c.sentinelQuorum} but only ${c.redisReplicas} Sentinels run; set it to at most ${c.redisReplicas} (a majority, ${Math.floor(c.redisReplicas / 2) + 1}, is recommended)`);
    }
    if (c.sentinelQuorum <= c.redisReplicas / 2) {
      at("sentinelQuorum", `is ${c.sentinelQuorum}, not a majority of ${c.redisReplicas} Sentinels; set it to at least ${Math.floor(c.redisReplicas / 2) + 1} so a minority cannot declare the master down`);
    }
    if (c.sentinelDownAfterMs >= c.sentinelFailoverTimeoutMs) {
      at("sentinelDownAfterMs", `(${c.sentinelDownAfterMs}) must be below sentinelFailoverTimeoutMs (${c.sentinelFailoverTimeoutMs}); lower it or raise the failover timeout`);
    }
    if (c.minReplicasToWrite > 0 && c.minReplicasMaxLagSeconds > maxReplicaLagSecondsFor(c.sentinelDownAfterMs)) {
      const most = maxReplicaLagSecondsFor(c.sentinelDownAfterMs);
      at("minReplicasMaxLagSeconds", `(${c.minReplicasMaxLagSeconds}) exceeds sentinelDownAfterMs (${c.sentinelDownAfterMs} ms): a master cut off from its replicas would keep accepting writes after Sentinel starts replacing it, and lose them; set it to at most ${most}`);
    }
    if (c.minReplicasToWrite > c.redisReplicas - 2) {
      at("minReplicasToWrite", `is ${c.minReplicasToWrite}: with ${c.redisReplicas} pods, losing one replica would stop all writes; set it to at most ${c.redisReplicas - 2}`);
    }
    if (c.publicTlsSecret !== undefined && c.publicPort === 80) {
      at("publicPort", "is 80 but publicTlsSecret is set: serve HTTPS on another port, usually 443");
    }
    if (c.appProbePort === c.appPort) {
      at("appProbePort", `(${c.appProbePort}) must differ from appPort: probes and metrics have a listener of their own`);
    }
    if (c.appWaitReplicas > c.redisReplicas - 1) {
      at("appWaitReplicas", `is ${c.appWaitReplicas} but only ${c.redisReplicas - 1} replicas exist; set it to at most ${c.redisReplicas - 1}`);
    }
    if ((c.autoscalerMin === undefined) !== (c.autoscalerMax === undefined)) {
      at(c.autoscalerMin === undefined ? "autoscalerMin" : "autoscalerMax", "autoscalerMin and autoscalerMax must be set together (or both left out to disable the autoscaler)");
    } else if (c.autoscalerMin !== undefined && c.autoscalerMax !== undefined) {
      if (c.autoscalerMax < c.autoscalerMin) at("autoscalerMax", `(${c.autoscalerMax}) must be at least autoscalerMin (${c.autoscalerMin})`);
      if (c.nodeCount < c.autoscalerMin || c.nodeCount > c.autoscalerMax) {
        at("nodeCount", `(${c.nodeCount}) must lie within autoscalerMin..autoscalerMax (${c.autoscalerMin}..${c.autoscalerMax})`);
      }
      if (c.autoscalerMin < c.redisReplicas) at("autoscalerMin", `must be at least redisReplicas (${c.redisReplicas})`);
    }
    if (c.appWaitReplicas > 0 && c.appWaitTimeoutMs >= c.appRequestTimeoutMs) {
      at("appWaitTimeoutMs", `(${c.appWaitTimeoutMs}) must be below appRequestTimeoutMs (${c.appRequestTimeoutMs}) so a write can still answer within its deadline`);
    }
    if (c.environment === "prod") {
      const open = c.controlPlaneAllowedCidrs.filter((range) => /\/0$/.test(range));
      if (open.length > 0) {
        at("controlPlaneAllowedCidrs", `lists ${open.join(", ")}: a prod Kubernetes API must not be open to the internet; list the deploy runners' and operators' ranges instead`);
      }
      if (c.publicTlsSecret === undefined && !c.allowPlainHttp) {
        at("publicTlsSecret", "must be set for environment prod: without it the bearer tokens and every value cross the internet in plain HTTP; create a kubernetes.io/tls Secret in the namespace (docs/linode.md, \"HTTPS\"), name it here and set publicPort to 443, or set allowPlainHttp: true to accept plain HTTP");
      }
      if (!c.haControlPlane) at("haControlPlane", "must be true for environment prod: a single control-plane replica stops every deploy and controller while it restarts");
    }
    if (c.backupRegion === c.region) {
      at("backupRegion", `is the cluster's own region (${c.region}); choose another region so a regional outage cannot take the backups with the cluster`);
    }
    if (QUANTITY.test(c.redisMemory)) replicationConfigProblems(c, toBytes(c.redisMemory), at);
    const graceMs = c.redisTerminationGraceSeconds * 1000;
    if (graceMs <= c.sentinelDownAfterMs) {
      at("redisTerminationGraceSeconds", `(${c.redisTerminationGraceSeconds}s) must exceed sentinelDownAfterMs so the preStop handover can finish before the pod is killed`);
    }
  });

/**
 * The largest minReplicasMaxLagSeconds a down-after allows: a master cut off from its replicas
 * must stop taking writes before Sentinel starts replacing it, or those writes are lost.
 */
export function maxReplicaLagSecondsFor(downAfterMs: number): number {
  return Math.max(1, Math.floor(downAfterMs / 1000));
}

/** Why a backup schedule is not a 5-field cron expression, or undefined when it is one. */
export function cronProblem(schedule: string): string | undefined {
  if (schedule.trim().split(/\s+/).length !== 5) {
    return `"${schedule}" is not a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 * * * *"`;
  }
  try {
    CronExpressionParser.parse(schedule, { tz: "UTC" });
    return undefined;
  } catch (error) {
    return `"${schedule}" is not a valid cron expression: ${(error as Error).message}`;
  }
}

/**
 * The longest gap, in seconds, between two runs of a cron schedule (UTC), looked for over 35
 * days or 20000 runs, whichever ends first: enough to see daily, weekly and monthly gaps.
 */
export function longestCronGapSeconds(schedule: string): number {
  const start = new Date(Date.UTC(2026, 0, 1));
  const end = start.getTime() + 35 * 86_400_000;
  const runs = CronExpressionParser.parse(schedule, { tz: "UTC", currentDate: start });
  let previous = runs.next().getTime();
  let longest = 0;
  for (let n = 0; previous < end && n < 20_000; n++) {
    const next = runs.next().getTime();
    longest = Math.max(longest, next - previous);
    previous = next;
  }
  return longest / 1000;
}

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type StackConfigKey = keyof typeof stackConfigShape;

const UNITS: Record<string, number> = { "": 1, m: 0.001, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** Bytes (or cores, for CPU quantities) of a Kubernetes quantity accepted by QUANTITY. */
export function toBytes(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!match) throw new Error(`not a quantity: ${quantity}`);
  return Number(match[1]) * (UNITS[match[2] ?? ""] ?? 1);
}

export { PASSWORD as PASSWORD_PATTERN };

/** One password of a Redis role user's list: as PASSWORD, but never a comma, which separates them. */
export const ROLE_PASSWORD_PATTERN = /^[A-Za-z0-9!#%+\-./:=@^_~]{16,128}$/;

/** One API bearer token (RFC 6750 b64token characters), 32-128 long: what the service accepts (app/src/api_auth.hpp). */
export const API_TOKEN_PATTERN = /^[A-Za-z0-9._~+/-]{32,128}=*$/;
