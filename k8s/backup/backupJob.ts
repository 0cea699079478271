import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { dnsEgress, endpointEgress, hostPortEgress, isolatingPolicy, podEgress } from "../networkPolicy";
import { labelsFor, selectorFor } from "../labels";
import { BACKUP_IDENTITY_VARIABLES, BACKUP_SECRET_VARIABLES, POD_NAME_VARIABLE, podPasswordSecretKey, scriptEnvironment } from "../redis/podEnvironment";
import { POD_PATHS, REDIS_UID, RedisSettings } from "../redis/render";
import type { RedisPodScripts } from "../redisTier";
import { restrictedContainerSecurity, restrictedPodSecurity } from "../security";
import { ARCHIVER_TOOL_ENV, archiverToolsContainer, rcloneToolsContainer, TOOLS_ENV, TOOLS_PATH, TOOLS_VOLUME } from "./tools";
import { BackupSettings, backupJobVariables, STORE_KEY_VARIABLES, STORE_SECRET_KEYS, storeVariables } from "./settings";

export const BACKUP_COMPONENT = "redis-backup";
export const BACKUP_SELECTOR = selectorFor(BACKUP_COMPONENT);
export const CRONJOB_NAME = "redis-backup";
/**
 * A new base as soon as the archive records a gap (a full resync): no restore crosses one unless
 * told to (--allow-gap, without what it left out), so until a backup exists after it, nothing
 * archived since is in reach whole. Every minute it reads one
 * object (the newest gap), the backup list and the newest verified backup's manifest, and runs
 * only when the gap is past that backup's offset.
 */
export const AFTER_GAP_CRONJOB_NAME = "redis-backup-after-gap";

/** A CronJob of backup.sh: its name, schedule (UTC) and arguments. */
export interface BackupCronPlan {
  name: string;
  schedule: string;
  args: string[];
}

/** The scheduled run and the after-gap one: the CronJobs here and the local schedule (local/backup/schedule.ts). */
export function backupCronPlans(settings: Pick<BackupSettings, "schedule">): BackupCronPlan[] {
  return [
    { name: CRONJOB_NAME, schedule: settings.schedule, args: ["run"] },
    { name: AFTER_GAP_CRONJOB_NAME, schedule: "* * * * *", args: ["run", "--after-gap"] },
  ];
}
const SCRATCH_PATH = "/scratch";

/** The bucket, as the pods see it: its location, and the Secret that holds its key. */
export interface BackupStoreRef {
  endpoint: pulumi.Input<string>;
  bucket: pulumi.Input<string>;
  region: string;
  secretName: pulumi.Input<string>;
}

export interface BackupJobArgs {
  namespace: pulumi.Input<string>;
  settings: BackupSettings;
  /** The Redis tier's settings: the job reaches its pods as the pod scripts do. */
  redis: RedisSettings;
  scripts: RedisPodScripts;
  store: BackupStoreRef;
  /** rclone image the binary is copied from. */
  rcloneImage: string;
  /** The archiver image redis-dr-archiver is copied from (restore --at, log and undo replay the archive). */
  archiverImage: string;
  /** host:port of a Pushgateway for the job's metrics. */
  pushgateway?: string;
  /** The Redis pods the job reads from and their Redis and Sentinel ports: all it may reach in the cluster. */
  redisPods: { selector: Record<string, string>; ports: number[] };
}

/** The store's environment: location as values, the key only by reference to its Secret. */
export function storeEnv(store: BackupStoreRef): pulumi.Input<k8s.types.input.core.v1.EnvVar>[] {
  const location = pulumi.all([store.endpoint, store.bucket]).apply(([endpoint, bucket]) => storeVariables({ endpoint, bucket, region: store.region }));
  const names = Object.keys(storeVariables({ endpoint: "", bucket: "", region: "" }));
  return [
    ...names.map((name) => ({ name, value: location.apply((vars) => vars[name]!) })),
    { name: STORE_KEY_VARIABLES.accessKeyId, valueFrom: { secretKeyRef: { name: store.secretName, key: STORE_SECRET_KEYS.accessKeyId } } },
    { name: STORE_KEY_VARIABLES.secretAccessKey, valueFrom: { secretKeyRef: { name: store.secretName, key: STORE_SECRET_KEYS.secretAccessKey } } },
  ];
}

/**
 * The backup CronJob: every run copies an RDB from a replica, verifies the stored copy by
 * restoring it, applies retention and pushes metrics (k8s/redis/scripts/backup.sh run).
 * One run at a time (Forbid); a run that fails leaves nothing a restore would pick.
 */
export class BackupJob extends pulumi.ComponentResource {
  readonly cronJob: k8s.batch.v1.CronJob;
  readonly afterGapCronJob: k8s.batch.v1.CronJob;

  constructor(name: string, args: BackupJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:BackupJob", name, {}, opts);
    const { namespace, redis, scripts } = args;
    const labels = labelsFor(BACKUP_COMPONENT);
    const secretEnv = (envName: string, key: string) => ({ name: envName, valueFrom: { secretKeyRef: { name: scripts.secretName, key } } });

    const cronJob = ({ name: cronJobName, schedule, args: runArgs }: BackupCronPlan) => new k8s.batch.v1.CronJob(
      cronJobName,
      {
        metadata: { name: cronJobName, namespace, labels },
        spec: {
          schedule,
          timeZone: "Etc/UTC",
          concurrencyPolicy: "Forbid",
          // A run missed by more than this (controller down, cluster busy) is skipped, not bunched up.
          startingDeadlineSeconds: 600,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: {
            metadata: { labels },
            spec: {
              backoffLimit: 1,
              activeDeadlineSeconds: args.settings.runDeadlineSeconds,
              template: {
                metadata: { labels },
                spec: {
                  restartPolicy: "Never",
                  automountServiceAccountToken: false,
                  enableServiceLinks: false,
                  securityContext: restrictedPodSecurity(REDIS_UID),
                  initContainers: [rcloneToolsContainer(args.rcloneImage), archiverToolsContainer(args.archiverImage)],
                  containers: [
                    {
                      name: "backup",
                      image: redis.redisImage,
                      imagePullPolicy: "IfNotPresent",
                      command: ["bash", `${POD_PATHS.scripts}/backup.sh`, ...runArgs],
                      env: [
                        { name: POD_NAME_VARIABLE, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                        ...Object.entries(scriptEnvironment(redis)).map(([envName, value]) => ({ name: envName, value })),
                        ...Object.entries(BACKUP_SECRET_VARIABLES).map(([envName, password]) => secretEnv(envName, podPasswordSecretKey(password))),
                        ...Object.entries(BACKUP_IDENTITY_VARIABLES).map(([envName, value]) => ({ name: envName, value })),
                        ...storeEnv(args.store),
                        ...Object.entries(backupJobVariables(args.settings)).map(([envName, value]) => ({ name: envName, value })),
                        { name: "SCRATCH_DIR", value: SCRATCH_PATH },
                        ...TOOLS_ENV,
                        ...ARCHIVER_TOOL_ENV,
                        ...(args.pushgateway ? [{ name: "PUSHGATEWAY", value: args.pushgateway }] : []),
                      ],
                      // The scratch redis-server holds the whole dataset while it verifies.
                      resources: { requests: { cpu: redis.redisCpu, memory: redis.redisMemory }, limits: { memory: redis.redisMemory } },
                      securityContext: restrictedContainerSecurity(),
                      volumeMounts: [
                        { name: "scripts", mountPath: POD_PATHS.scripts, readOnly: true },
                        { name: "tools", mountPath: TOOLS_PATH, readOnly: true },
                        { name: "scratch", mountPath: SCRATCH_PATH },
                      ],
                    },
                  ],
                  volumes: [
                    { name: "scripts", configMap: { name: scripts.configMapName, defaultMode: 0o555 } },
                    TOOLS_VOLUME,
                    // One RDB at a time, never larger than the volume it came from.
                    { name: "scratch", emptyDir: { sizeLimit: redis.volumeSize } },
                  ],
                },
              },
            },
          },
        },
      },
      { parent: this },
    );
    [this.cronJob, this.afterGapCronJob] = backupCronPlans(args.settings).map(cronJob) as [k8s.batch.v1.CronJob, k8s.batch.v1.CronJob];

    // The jobs only connect out: to Sentinel and a replica, the bucket and the Pushgateway.
    isolatingPolicy(
      CRONJOB_NAME,
      {
        namespace,
        labels,
        selector: BACKUP_SELECTOR,
        ingress: [],
        egress: [
          dnsEgress(),
          podEgress(args.redisPods.selector, args.redisPods.ports),
          endpointEgress(args.store.endpoint),
          ...(args.pushgateway ? [hostPortEgress(args.pushgateway)] : []),
        ],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
