import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { exporterContainers } from "./exporters";
import { POD_NAME_VARIABLE, podPasswordSecretKey, REDIS_POD_SECRET_VARIABLES, redisPodVariables, seedVariables } from "./podEnvironment";
import { HEADLESS_SERVICE_NAME, POD_PATHS, REDIS_PORT, REDIS_SCRIPT_CONTAINERS, REDIS_UID, RedisSettings, SENTINEL_PORT } from "./render";
import { restrictedContainerSecurity, restrictedPodSecurity, shortNodeFailureTolerations } from "../security";
import { storeEnv } from "../backup/backupJob";
import { ARCHIVER_TOOL_ENV, archiverToolsContainer, rcloneToolsContainer, TOOLS_ENV, TOOLS_PATH, TOOLS_VOLUME } from "../backup/tools";
import type { SeedFromBackup } from "../redisTier";

type Container = k8s.types.input.core.v1.Container;
type Probe = k8s.types.input.core.v1.Probe;

/**
 * The promotion follower is bash plus one idle redis-cli subscriber per Sentinel: measured
 * locally at 31 MiB RSS summed over its 7 processes (shared library pages counted in each),
 * so 64Mi leaves room for its short-lived redis-cli calls during a failover.
 */
const PROMOTION_FOLLOWER_RESOURCES = { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "64Mi" } };

/** Loading a large AOF and waiting for Sentinel to promote a replica both happen before Redis answers. */
const REDIS_STARTUP_BUDGET_SECONDS = 600;

export interface RedisPodArgs {
  settings: RedisSettings;
  namespace: pulumi.Input<string>;
  labels: Record<string, string>;
  selector: Record<string, string>;
  /** Checksums whose change rolls the pods. */
  annotations: Record<string, pulumi.Input<string>>;
  secretName: pulumi.Input<string>;
  configMapName: pulumi.Input<string>;
  scriptsMapName: pulumi.Input<string>;
  seed?: SeedFromBackup;
  /** With a replication endpoint: the Secret with the TLS identity redis-server serves the standby with. */
  replicationTlsSecretName?: pulumi.Input<string>;
}

const scriptCommand = (script: string, ...args: string[]) => ["bash", `${POD_PATHS.scripts}/${script}`, ...args];
const scriptProbe = (script: string, mode: string, periodSeconds: number, timeoutSeconds: number, failureThreshold: number): Probe => ({
  exec: { command: scriptCommand(script, mode) },
  periodSeconds,
  timeoutSeconds,
  failureThreshold,
});

/**
 * One container of the Redis image running a pod script: redis, sentinel, the promotion
 * follower and the restore all differ only in what this takes.
 */
function scriptContainer(
  settings: RedisSettings,
  spec: Pick<Container, "name" | "env" | "volumeMounts" | "ports" | "startupProbe" | "livenessProbe" | "readinessProbe" | "lifecycle"> & {
    command: string[];
    resources: Container["resources"];
  },
): Container {
  return { image: settings.redisImage, imagePullPolicy: "IfNotPresent", securityContext: restrictedContainerSecurity(), ...spec };
}

/** Requests and limits of a container whose memory is its limit too (no CPU limit: throttling stalls replication and probes). */
const sized = (cpu: string, memory: string) => ({ requests: { cpu, memory }, limits: { memory } });

/** The Redis pod: redis, sentinel, promotion follower and the exporters; with a seed, the restore first. */
export function redisPodTemplate(args: RedisPodArgs): k8s.types.input.core.v1.PodTemplateSpec {
  const { settings: cfg } = args;
  const secretEnv = (envName: string, key: string): k8s.types.input.core.v1.EnvVar => ({
    name: envName,
    valueFrom: { secretKeyRef: { name: args.secretName, key } },
  });
  const env: k8s.types.input.core.v1.EnvVar[] = [
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: POD_NAME_VARIABLE, value: pulumi.interpolate`$(POD_NAME).${HEADLESS_SERVICE_NAME}.${args.namespace}.svc.cluster.local` },
    ...Object.entries(redisPodVariables(cfg)).map(([name, value]) => ({ name, value })),
    ...Object.entries(REDIS_POD_SECRET_VARIABLES).map(([name, password]) => secretEnv(name, podPasswordSecretKey(password))),
  ];
  const mounts: k8s.types.input.core.v1.VolumeMount[] = [
    { name: "data", mountPath: POD_PATHS.data },
    { name: "config", mountPath: POD_PATHS.config, readOnly: true },
    { name: "scripts", mountPath: POD_PATHS.scripts, readOnly: true },
  ];
  // Only with restoreFrom: the first pod of an empty deployment loads the backup into its
  // volume before Redis starts (backup.sh seed decides; it never overwrites data).
  const seed = args.seed
    ? [
        rcloneToolsContainer(args.seed.rcloneImage),
        archiverToolsContainer(args.seed.archiverImage),
        scriptContainer(cfg, {
          name: "restore",
          command: scriptCommand("backup.sh", "seed"),
          env: [...env, ...storeEnv(args.seed.store), ...Object.entries(seedVariables(args.seed)).map(([name, value]) => ({ name, value })), ...TOOLS_ENV, ...ARCHIVER_TOOL_ENV, { name: "SCRATCH_DIR", value: `${POD_PATHS.data}/seed-scratch` }],
          resources: sized(cfg.redisCpu, cfg.redisMemory),
          volumeMounts: [...mounts, { name: TOOLS_VOLUME.name, mountPath: TOOLS_PATH, readOnly: true }],
        }),
      ]
    : [];
  return {
    metadata: { labels: args.labels, annotations: args.annotations },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: cfg.redisTerminationGraceSeconds,
      securityContext: restrictedPodSecurity(REDIS_UID),
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: args.selector }, topologyKey: "kubernetes.io/hostname" }],
        },
      },
      tolerations: shortNodeFailureTolerations(cfg.notReadyTolerationSeconds),
      ...(seed.length > 0 ? { initContainers: seed } : {}),
      containers: [
        scriptContainer(cfg, {
          name: REDIS_SCRIPT_CONTAINERS.redis,
          command: scriptCommand("start-redis.sh"),
          env,
          ports: [{ name: "redis", containerPort: REDIS_PORT }],
          resources: sized(cfg.redisCpu, cfg.redisMemory),
          startupProbe: scriptProbe("probe-redis.sh", "liveness", 5, 4, REDIS_STARTUP_BUDGET_SECONDS / 5),
          livenessProbe: scriptProbe("probe-redis.sh", "liveness", 10, 5, 3),
          readinessProbe: { ...scriptProbe("probe-redis.sh", "readiness", 5, 4, 2), successThreshold: 1 },
          lifecycle: { preStop: { exec: { command: scriptCommand("prestop-redis.sh") } } },
          volumeMounts: [
            ...mounts,
            { name: "runtime", mountPath: POD_PATHS.runtime },
            ...(args.replicationTlsSecretName ? [{ name: "replication-tls", mountPath: POD_PATHS.tls, readOnly: true }] : []),
          ],
        }),
        scriptContainer(cfg, {
          name: REDIS_SCRIPT_CONTAINERS.sentinel,
          command: scriptCommand("start-sentinel.sh"),
          env,
          ports: [{ name: "sentinel", containerPort: SENTINEL_PORT }],
          resources: sized(cfg.sentinelCpu, cfg.sentinelMemory),
          startupProbe: scriptProbe("probe-sentinel.sh", "liveness", 5, 4, 60),
          livenessProbe: scriptProbe("probe-sentinel.sh", "liveness", 10, 5, 3),
          readinessProbe: scriptProbe("probe-sentinel.sh", "readiness", 5, 4, 2),
          lifecycle: { preStop: { exec: { command: scriptCommand("prestop-sentinel.sh") } } },
          volumeMounts: mounts,
        }),
        // Moves this pod's replica to the replica Sentinel promotes as soon as the leader
        // announces it (follow-promotion.sh says why); no port, no probes.
        scriptContainer(cfg, {
          name: REDIS_SCRIPT_CONTAINERS.follower,
          command: scriptCommand("follow-promotion.sh"),
          env,
          resources: PROMOTION_FOLLOWER_RESOURCES,
          volumeMounts: mounts,
        }),
        ...exporterContainers(cfg, args.secretName),
      ],
      volumes: [
        { name: "config", configMap: { name: args.configMapName } },
        { name: "scripts", configMap: { name: args.scriptsMapName, defaultMode: 0o555 } },
        // Holds the generated redis.conf with the password: memory-backed, never on disk.
        { name: "runtime", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
        ...(args.seed ? [TOOLS_VOLUME] : []),
        // Readable by the redis user only (fsGroup): the key never leaves this container.
        ...(args.replicationTlsSecretName ? [{ name: "replication-tls", secret: { secretName: args.replicationTlsSecretName, defaultMode: 0o440 } }] : []),
      ],
    },
  };
}
