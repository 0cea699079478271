import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { APP_UID } from "../appTier";
import { ArchiveTiming, ARCHIVE_PREFIX, archiverTimingEnvironment } from "../backup/settings";
import { BackupStoreRef, storeEnv } from "../backup/backupJob";
import { ARCHIVER_BINARY_PATH, rcloneToolsContainer, TOOLS_ENV, TOOLS_PATH, TOOLS_VOLUME } from "../backup/tools";
import { labelsFor, selectorFor } from "../labels";
import { dnsEgress, endpointEgress, hostPortEgress, isolatingPolicy, podEgress } from "../networkPolicy";
import { POD_NAME_VARIABLE } from "../redis/podEnvironment";
import { podFqdns, POD_PATHS, REDIS_PORT, RedisSettings, roleSecretKeys } from "../redis/render";
import type { RedisPodScripts } from "../redisTier";
import { restrictedContainerSecurity, restrictedPodSecurity } from "../security";

export const ARCHIVER_COMPONENT = "redis-archiver";
export const ARCHIVER_SELECTOR = selectorFor(ARCHIVER_COMPONENT);
const SPOOL_PATH = "/spool";
/**
 * The most the spool may hold: segments the store has not taken yet. Past it the kubelet
 * evicts the pod, the archiver resumes from the store, and what the upstream's backlog no
 * longer holds is a recorded gap.
 */
const SPOOL_LIMIT = "1Gi";

export interface ArchiverArgs {
  namespace: pulumi.Input<string>;
  /** The archiver image: redis-dr-archiver, redis-dr-uploader (with libcurl), bash and coreutils (app/Dockerfile, target archiver). */
  image: string;
  rcloneImage: string;
  /** The Redis tier's settings: the archiver follows one of its pods by name. */
  redis: RedisSettings;
  scripts: RedisPodScripts;
  store: BackupStoreRef;
  timing: ArchiveTiming;
  /** The Redis pods: all the archiver may reach in the cluster. */
  redisPods: { selector: Record<string, string> };
  /** host:port of a Pushgateway for the shipper's metrics (the ArchiveLagging and ArchiveGap alerts). */
  pushgateway?: string;
}

/**
 * The continuous archive (docs/archive.md): redis-dr-archiver follows a replica's replication
 * stream into a spool, archive.sh ships the spool to the backup bucket. One pod, replaced only
 * after the old one is gone (Recreate): two archivers would store every segment twice.
 */
export class ArchiverDeployment extends pulumi.ComponentResource {
  readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: ArchiverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-dr:k8s:ArchiverDeployment", name, {}, opts);
    const { namespace, scripts, timing } = args;
    const labels = labelsFor(ARCHIVER_COMPONENT);
    const spoolEnv = [
      { name: POD_NAME_VARIABLE, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "ARCHIVE_SPOOL_DIR", value: SPOOL_PATH },
    ];
    const shipperEnv = [
      ...spoolEnv,
      ...storeEnv(args.store),
      { name: "ARCHIVE_PREFIX", value: ARCHIVE_PREFIX },
      { name: "ARCHIVE_SHIP_MS", value: String(timing.shipMs) },
      { name: "ARCHIVE_MAX_LAG_SECONDS", value: String(timing.alertLagSeconds) },
      ...(args.pushgateway ? [{ name: "PUSHGATEWAY", value: args.pushgateway }] : []),
      ...TOOLS_ENV,
    ];
    const script = (name: string, command: string, resources: k8s.types.input.core.v1.ResourceRequirements): k8s.types.input.core.v1.Container => ({
      name,
      image: args.image,
      imagePullPolicy: "IfNotPresent",
      command: ["bash", `${POD_PATHS.scripts}/archive.sh`, command],
      env: shipperEnv,
      resources,
      securityContext: restrictedContainerSecurity(),
      volumeMounts: [
        { name: "scripts", mountPath: POD_PATHS.scripts, readOnly: true },
        { name: "tools", mountPath: TOOLS_PATH, readOnly: true },
        { name: "spool", mountPath: SPOOL_PATH },
      ],
    });
    const small = { requests: { cpu: "20m", memory: "128Mi" }, limits: { memory: "128Mi" } };

    this.deployment = new k8s.apps.v1.Deployment(
      ARCHIVER_COMPONENT,
      {
        metadata: { name: ARCHIVER_COMPONENT, namespace, labels },
        spec: {
          replicas: 1,
          strategy: { type: "Recreate" },
          selector: { matchLabels: ARCHIVER_SELECTOR },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: restrictedPodSecurity(APP_UID),
              initContainers: [rcloneToolsContainer(args.rcloneImage), script("resume", "resume", small)],
              containers: [
                {
                  name: "archiver",
                  image: args.image,
                  imagePullPolicy: "IfNotPresent",
                  command: [ARCHIVER_BINARY_PATH, "follow"],
                  env: [
                    ...spoolEnv,
                    { name: "REDIS_NODES", value: podFqdns(args.redis).map((fqdn) => `${fqdn}:${REDIS_PORT}`).join(",") },
                    { name: "ARCHIVER_USER", value: "archiver" },
                    { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: scripts.secretName, key: roleSecretKeys("archiver").current } } },
                    ...Object.entries(archiverTimingEnvironment(timing)).map(([name, value]) => ({ name, value })),
                  ],
                  // The stream is read 64 KiB at a time and a segment is on disk, not in memory.
                  resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "128Mi" } },
                  securityContext: restrictedContainerSecurity(),
                  volumeMounts: [{ name: "spool", mountPath: SPOOL_PATH }],
                },
                script("shipper", "ship", small),
              ],
              volumes: [
                { name: "scripts", configMap: { name: scripts.configMapName, defaultMode: 0o555 } },
                TOOLS_VOLUME,
                { name: "spool", emptyDir: { sizeLimit: SPOOL_LIMIT } },
              ],
            },
          },
        },
      },
      { parent: this },
    );

    // It only connects out: to a replica's Redis port, the bucket and the Pushgateway.
    isolatingPolicy(
      ARCHIVER_COMPONENT,
      {
        namespace,
        labels,
        selector: ARCHIVER_SELECTOR,
        ingress: [],
        egress: [
          dnsEgress(),
          podEgress(args.redisPods.selector, [REDIS_PORT]),
          endpointEgress(args.store.endpoint),
          ...(args.pushgateway ? [hostPortEgress(args.pushgateway)] : []),
        ],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
