import { beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../config/load";
import { AFTER_GAP_CRONJOB_NAME, BACKUP_SELECTOR, CRONJOB_NAME } from "../k8s/backup/backupJob";
import { isSecretWrapper, plain } from "./helpers/k8sObjects";
import { MOCK_BUCKET_SUFFIX, MOCK_OBJECT_KEY, one, RenderedStack, renderStack } from "./helpers/pulumiMocks";
import { rawStackConfig } from "./helpers/stackConfig";

// The backup half of the program (infra/backupStore.ts, k8s/backup/), rendered under mocks.
const T = {
  bucket: "linode:index/objectStorageBucket:ObjectStorageBucket",
  key: "linode:index/objectStorageKey:ObjectStorageKey",
  linodeProvider: "pulumi:providers:linode",
  secret: "kubernetes:core/v1:Secret",
  cronJob: "kubernetes:batch/v1:CronJob",
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
};
const BUCKET = `redis-dr-dev-backups-${MOCK_BUCKET_SUFFIX}`;
const ARCHIVER_IMAGE = "ghcr.io/redis-dr/redis-dr-archiver:0.1.0";
const RESTORE = { bucket: "redis-dr-old-backups-0f0f0f", region: "us-iad", endpoint: "https://us-iad-1.linodeobjects.com", backup: "20261125T230000Z" };

const envOf = (container: { env: Array<{ name: string; value?: unknown; valueFrom?: unknown }> }) => Object.fromEntries(container.env.map((e) => [e.name, e]));

describe("backups under Pulumi mocks", () => {
  let rendered: RenderedStack;
  beforeAll(async () => {
    rendered = await renderStack("dev");
  });

  it("keeps them in a versioned, protected bucket in the backup region, where deleted backups stay recoverable and current ones never expire", () => {
    const bucket = one(rendered, T.bucket);
    expect(plain(bucket.inputs)).toMatchObject({ region: "us-sea", label: BUCKET, acl: "private", versioning: true });
    const rules = plain(bucket.inputs).lifecycleRules;
    expect(rules).toContainEqual(expect.objectContaining({ enabled: true, noncurrentVersionExpiration: { days: 7 }, abortIncompleteMultipartUploadDays: 1 }));
    expect(rules.some((r: { expiration?: { days?: number } }) => r.expiration?.days !== undefined)).toBe(false);
    expect(bucket.options.protect).toBe(true);
    // Versioning and lifecycle go through the S3 API, with keys the provider makes for the apply only.
    expect(plain(one(rendered, T.linodeProvider, "objects").inputs).objUseTempKeys).toBe("true");
  });

  it("gives the cluster a key limited to that bucket, only through a Secret", () => {
    expect(plain(one(rendered, T.key).inputs).bucketAccesses).toEqual([{ bucketName: BUCKET, region: "us-sea", permissions: "read_write" }]);
    const secret = one(rendered, T.secret, "redis-backup-store").inputs;
    expect(isSecretWrapper(secret.stringData)).toBe(true);
    expect(plain(secret.stringData)).toEqual({ "access-key-id": MOCK_OBJECT_KEY.accessKey, "secret-access-key": MOCK_OBJECT_KEY.secretKey });
    for (const resource of rendered.resources.filter((r) => r.type !== T.secret && r.type !== T.key)) {
      expect(JSON.stringify(plain(resource.inputs)), resource.name).not.toContain(MOCK_OBJECT_KEY.secretKey);
    }
    expect(rendered.outputs).toMatchObject({ backupBucket: BUCKET, backupRegion: "us-sea", backupEndpoint: "https://us-sea-1.linodeobjects.com" });
  });

  it("runs backup.sh hourly from a CronJob, one run at a time, with rclone and the archiver copied in and the key by reference", () => {
    const cron = plain(one(rendered, T.cronJob, CRONJOB_NAME).inputs);
    expect(cron.spec).toMatchObject({ schedule: "0 * * * *", timeZone: "Etc/UTC", concurrencyPolicy: "Forbid" });
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999 });
    expect(pod.initContainers.map((c: { name: string; image: string; command: string[] }) => [c.name, c.image, c.command])).toEqual([
      ["tools", "rclone/rclone:1.68.2", ["cp", "/usr/local/bin/rclone", "/etc/ssl/certs/ca-certificates.crt", "/tools/"]],
      ["archiver-tools", ARCHIVER_IMAGE, ["cp", "/usr/local/bin/redis-dr-archiver", "/tools/"]],
    ]);
    const backup = pod.containers[0];
    expect(backup.image).toBe("redis:7.4.7-bookworm");
    expect(backup.command).toEqual(["bash", "/scripts/backup.sh", "run"]);
    const env = envOf(backup);
    expect(env.BACKUP_BUCKET!.value).toBe(BUCKET);
    expect(env.RCLONE_CONFIG_STORE_ENDPOINT!.value).toBe("https://us-sea-1.linodeobjects.com");
    expect(env.RCLONE_CONFIG_STORE_FORCE_PATH_STYLE!.value).toBe("true");
    // The Redis image has no CA bundle of its own: TLS is verified against the copied one.
    expect(env).toMatchObject({ RCLONE: { value: "/tools/rclone" }, RCLONE_CA_CERT: { value: "/tools/ca-certificates.crt" }, ARCHIVER: { value: "/tools/redis-dr-archiver" } });
    expect(env.RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY!.valueFrom).toEqual({ secretKeyRef: { name: "redis-backup-store", key: "secret-access-key" } });
    expect(env.REDIS_PASSWORD!.valueFrom).toEqual({ secretKeyRef: { name: "redis-auth", key: "redis-password" } });
    expect(env).toMatchObject({ BACKUP_KEEP_HOURLY: { value: "48" }, BACKUP_KEEP_DAILY: { value: "30" }, BACKUP_MAX_AGE_SECONDS: { value: String(2 * 3600 + 1800) }, BACKUP_RUN_DEADLINE_SECONDS: { value: "1800" }, BACKUP_SHRINK_ALARM_PERCENT: { value: "50" } });
    // A run that hangs is stopped at the deadline retention also waits for.
    expect(cron.spec.jobTemplate.spec.activeDeadlineSeconds).toBe(1800);
    expect(env.PUSHGATEWAY).toBeUndefined();
  });

  it("takes a new base within a minute of an archive gap: the same pod, every minute, backup.sh run --after-gap", () => {
    const scheduled = plain(one(rendered, T.cronJob, CRONJOB_NAME).inputs);
    const afterGap = plain(one(rendered, T.cronJob, AFTER_GAP_CRONJOB_NAME).inputs);
    expect(afterGap.spec).toMatchObject({ schedule: "* * * * *", concurrencyPolicy: "Forbid" });
    const container = afterGap.spec.jobTemplate.spec.template.spec.containers[0];
    expect(container.command).toEqual(["bash", "/scripts/backup.sh", "run", "--after-gap"]);
    // Everything else is the scheduled run's: image, environment, Secrets, tools, labels (the network policy's selector).
    const { command: _a, ...rest } = container;
    const { command: _b, ...scheduledRest } = scheduled.spec.jobTemplate.spec.template.spec.containers[0];
    expect(rest).toEqual(scheduledRest);
    expect(afterGap.spec.jobTemplate.spec.template.metadata.labels).toEqual(scheduled.spec.jobTemplate.spec.template.metadata.labels);
  });

  it("lets the backup job's pods reach Redis and Sentinel", () => {
    const policy = plain(one(rendered, T.netpol, "redis").inputs);
    const dataRule = policy.spec.ingress.find((rule: { ports: Array<{ port: number }> }) => rule.ports.some((p) => p.port === 6379));
    expect(dataRule.from).toContainEqual({ podSelector: { matchLabels: BACKUP_SELECTOR } });
  });

  it("seeds nothing unless restoreFrom is set", () => {
    expect(plain(one(rendered, T.statefulSet).inputs).spec.template.spec.initContainers).toBeUndefined();
  });

  it("with restoreFrom, seeds the first pod from that bucket before Redis starts, with read-only access to it", async () => {
    const restoring = await renderStack("dev", { "redis-dr:restoreFrom": JSON.stringify(RESTORE), "redis-dr:backupPushgateway": "pushgateway.monitoring.svc:9091" });
    const pod = plain(one(restoring, T.statefulSet).inputs).spec.template.spec;
    expect(pod.initContainers.map((c: { name: string }) => c.name)).toEqual(["tools", "archiver-tools", "restore"]);
    const restore = pod.initContainers[2];
    expect(restore.command).toEqual(["bash", "/scripts/backup.sh", "seed"]);
    const env = envOf(restore);
    expect(env).toMatchObject({
      RESTORE_BACKUP: { value: RESTORE.backup },
      ALLOW_SUSPECT: { value: "0" },
      BACKUP_BUCKET: { value: RESTORE.bucket },
      RCLONE_CONFIG_STORE_ENDPOINT: { value: RESTORE.endpoint },
      RCLONE_CONFIG_STORE_REGION: { value: RESTORE.region },
      DATA_DIR: { value: "/data" },
      ARCHIVER: { value: "/tools/redis-dr-archiver" },
    });
    expect(env.RESTORE_AT).toBeUndefined();
    expect(restore.volumeMounts.map((m: { name: string }) => m.name)).toEqual(expect.arrayContaining(["data", "scripts", "tools"]));
    expect(plain(one(restoring, T.key).inputs).bucketAccesses).toEqual([
      { bucketName: BUCKET, region: "us-sea", permissions: "read_write" },
      { bucketName: RESTORE.bucket, region: RESTORE.region, permissions: "read_only" },
    ]);
    const job = plain(one(restoring, T.cronJob, CRONJOB_NAME).inputs).spec.jobTemplate.spec.template.spec.containers[0];
    expect(envOf(job).PUSHGATEWAY).toEqual({ name: "PUSHGATEWAY", value: "pushgateway.monitoring.svc:9091" });
  });

  it("takes a suspect backup only when restoreFrom.allowSuspect says so", async () => {
    const told = await renderStack("dev", { "redis-dr:restoreFrom": JSON.stringify({ ...RESTORE, allowSuspect: true }), "redis-dr:backupShrinkAlarmPercent": "80" });
    expect(envOf(plain(one(told, T.statefulSet).inputs).spec.template.spec.initContainers[2]).ALLOW_SUSPECT).toEqual({ name: "ALLOW_SUSPECT", value: "1" });
    expect(envOf(plain(one(told, T.cronJob, CRONJOB_NAME).inputs).spec.jobTemplate.spec.template.spec.containers[0]).BACKUP_SHRINK_ALARM_PERCENT).toEqual({ name: "BACKUP_SHRINK_ALARM_PERCENT", value: "80" });
  });

  it("with restoreFrom.at and skip, replays the archive to that time leaving those commands out", async () => {
    const { backup: _backup, ...location } = RESTORE;
    const atTime = await renderStack("dev", { "redis-dr:restoreFrom": JSON.stringify({ ...location, at: "2026-12-04T21:30:00Z", skip: [1044, 2088] }) });
    const env = envOf(plain(one(atTime, T.statefulSet).inputs).spec.template.spec.initContainers[2]);
    expect(env).toMatchObject({ RESTORE_BACKUP: { value: "latest" }, RESTORE_AT: { value: "2026-12-04T21:30:00Z" }, RESTORE_SKIP: { value: "1044,2088" } });
    expect(env.RESTORE_ALLOW_GAP).toBeUndefined();
    const acrossGaps = await renderStack("dev", { "redis-dr:restoreFrom": JSON.stringify({ ...location, at: "latest", allowGap: true }) });
    expect(envOf(plain(one(acrossGaps, T.statefulSet).inputs).spec.template.spec.initContainers[2]).RESTORE_ALLOW_GAP).toEqual({ name: "RESTORE_ALLOW_GAP", value: "1" });
  });
});

describe("backup config", () => {
  const problems = (overrides: Record<string, string>) => {
    try {
      parseStackConfig({ ...rawStackConfig("dev"), ...overrides });
      return [];
    } catch (error) {
      return (error as { problems: string[] }).problems;
    }
  };

  it("refuses a backup region that is the cluster's own", () => {
    expect(problems({ "redis-dr:backupRegion": "us-ord" })).toEqual([expect.stringMatching(/^redis-dr:backupRegion: is the cluster's own region \(us-ord\); choose another region/)]);
  });

  it("refuses a schedule that is not a 5-field cron expression, naming the key", () => {
    expect(problems({ "redis-dr:backupSchedule": "every hour" })).toEqual([expect.stringMatching(/^redis-dr:backupSchedule: "every hour" is not a 5-field cron expression/)]);
    expect(problems({ "redis-dr:backupSchedule": "0 25 * * *" })).toEqual([expect.stringMatching(/^redis-dr:backupSchedule: "0 25 \* \* \*" is not a valid cron expression/)]);
    expect(problems({ "redis-dr:backupSchedule": "*/15 * * * *" })).toEqual([]);
  });

  it("refuses a restoreFrom without an endpoint or with a malformed backup id", () => {
    const { endpoint: _endpoint, ...noEndpoint } = RESTORE;
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify(noEndpoint) })[0]).toMatch(/^redis-dr:restoreFrom: /);
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify({ ...RESTORE, backup: "yesterday" }) })[0]).toMatch(/must be latest or a backup id/);
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify(RESTORE) })).toEqual([]);
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify({ ...RESTORE, backup: "latest", at: "yesterday" }) })[0]).toMatch(/^redis-dr:restoreFrom: at must be latest or an RFC 3339 time/);
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify({ ...RESTORE, at: "latest" }) })[0]).toMatch(/^redis-dr:restoreFrom: with at, the base is the newest trusted backup before it/);
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify({ ...RESTORE, backup: "latest", skip: [12] }) })[0]).toMatch(/^redis-dr:restoreFrom: skip needs at/);
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify({ ...RESTORE, backup: "latest", at: "latest", skip: [0] }) })[0]).toMatch(/^redis-dr:restoreFrom: skip must list offsets/);
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify({ ...RESTORE, backup: "latest", at: "2026-12-04T21:30:00+01:00", skip: [12] }) })).toEqual([]);
    expect(problems({ "redis-dr:restoreFrom": JSON.stringify({ ...RESTORE, allowGap: true }) })[0]).toMatch(/^redis-dr:restoreFrom: allowGap needs at/);
    expect(problems({ "redis-dr:backupShrinkAlarmPercent": "0" })[0]).toMatch(/^redis-dr:backupShrinkAlarmPercent: /);
  });
});
