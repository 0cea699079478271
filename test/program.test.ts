import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { CCM_ANNOTATIONS } from "../infra/ccmAnnotations";
import { NODE_FIREWALL_DEFAULT_RULES } from "../infra/nodeFirewall";
import { APP_COMPONENT, NODEBALANCER_DETECTION_SECONDS, SHUTDOWN_DRAIN_SECONDS } from "../k8s/appTier";
import { AlertRuleGroup, alertRuleGroups } from "../k8s/monitoring";
import { AFTER_GAP_CRONJOB_NAME, CRONJOB_NAME } from "../k8s/backup/backupJob";
import { roleSecretKeys, SCRIPT_DIR, SECRET_KEYS } from "../k8s/redis/render";
import { ACL_USERS, renderAclUsers, ROLE_USERS } from "../k8s/redis/acl";
import { ROLE_PASSWORD_KEYS } from "../config/load";
import { isKubernetesObject, isSecretWrapper, plain, validateAgainstSchema } from "./helpers/k8sObjects";
import { byType, MOCK_FIREWALL_ID, MOCK_GENERATED_PASSWORD, MOCK_NODEBALANCER, MOCK_RESERVED_IPV4, one as oneNamed, RenderedStack, renderStack } from "./helpers/pulumiMocks";
import { stackConfig } from "./helpers/stackConfig";

/** "The Deployment" is the app's; the archiver's is named where a test means it. */
const one = (rendered: RenderedStack, type: string, name?: string) => oneNamed(rendered, type, name ?? (type === "kubernetes:apps/v1:Deployment" ? APP_COMPONENT : undefined));

const T = {
  cluster: "linode:index/lkeCluster:LkeCluster",
  nodeBalancer: "linode:index/nodeBalancer:NodeBalancer",
  firewall: "linode:index/firewall:Firewall",
  provider: "pulumi:providers:kubernetes",
  namespace: "kubernetes:core/v1:Namespace",
  secret: "kubernetes:core/v1:Secret",
  configMap: "kubernetes:core/v1:ConfigMap",
  service: "kubernetes:core/v1:Service",
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  deployment: "kubernetes:apps/v1:Deployment",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
  netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  helmRelease: "kubernetes:helm.sh/v3:Release",
  cloudFirewall: "kubernetes:networking.linode.com/alpha1v1:CloudFirewall",
  reservedIp: "linode:index/networkingIp:NetworkingIp",
};

/** Every alert the operators were promised (issue #5). */
const ALERTS = ["RedisNoMaster", "RedisFailoverHappened", "RedisSentinelsDisagree", "RedisTooFewReplicas", "RedisReplicationLag", "AppNotReady", "AppHighErrorRate", "BackupTooOld", "BackupFailed", "BackupShrank", "ArchiveLagging", "ArchiveGap", "ArchiveMismatch"];

const REDIS_PASSWORD = "Redis-Secret-Value-0123456789";
const SENTINEL_PASSWORD = "Sentinel-Secret-Value-0123456789";
/** The Redis role users' passwords (k8s/redis/acl.ts); the app's mid-rotation, two of them. */
const ROLE_PASSWORDS = {
  app: "App-Old-Password-0123456789,App-New-Password-0123456789",
  monitor: "Monitor-Password-0123456789",
  replication: "Replication-Password-0123456789",
  sentinel: "Sentinel-User-Password-0123456789",
  archiver: "Archiver-Password-0123456789",
  standby: "Standby-Password-0123456789",
  relay: "Relay-Password-0123456789",
} as const;
const SECRET_CONFIG = {
  "redis-dr:redisPassword": REDIS_PASSWORD,
  "redis-dr:sentinelPassword": SENTINEL_PASSWORD,
  ...Object.fromEntries(Object.entries(ROLE_PASSWORD_KEYS).map(([user, key]) => [`redis-dr:${key}`, ROLE_PASSWORDS[user as keyof typeof ROLE_PASSWORDS]])),
};
const EVERY_PASSWORD = [REDIS_PASSWORD, SENTINEL_PASSWORD, ...Object.values(ROLE_PASSWORDS).flatMap((list) => list.split(","))];

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function container(rendered: RenderedStack, type: string, name: string) {
  const spec = plain(one(rendered, type).inputs).spec.template.spec;
  const found = spec.containers.find((c: { name: string }) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

function envOf(c: { env: Array<{ name: string; value?: string; valueFrom?: any }> }) {
  return Object.fromEntries(c.env.map((e) => [e.name, e]));
}

describe.each(["dev", "prod"] as const)("%s stack under Pulumi mocks", (stack) => {
  const publicPort = stackConfig(stack).publicPort;
  let rendered: RenderedStack;
  beforeAll(async () => {
    rendered = await renderStack(stack, {}, SECRET_CONFIG);
  });

  it("creates the resources of the design, each once, under the component that owns it", () => {
    // type, name and parent component: a missing, extra or misplaced resource shows up by name in the diff.
    const declared = rendered.resources
      .filter((r) => !r.type.startsWith("redis-dr:"))
      .map((r) => `${r.type.split(":").slice(1).join(":")} ${r.name} <- ${String(r.options.parent ? (r.options.parent as unknown as { __name?: string }).__name : "stack")}`)
      .sort();
    expect(declared).toEqual(
      [
        // First: the guard every other resource waits for (config/dataShape.ts)
        "dynamic:Resource data-shape <- stack",
        // infra/: Linode and the cluster's provider
        "index/lkeCluster:LkeCluster cluster <- lke",
        "providers:kubernetes lke <- lke",
        "index/firewall:Firewall app <- public",
        "index/nodeBalancer:NodeBalancer app <- public",
        "helm.sh/v3:Release cloud-firewall-crd <- nodes",
        "helm.sh/v3:Release cloud-firewall-controller <- nodes",
        "networking.linode.com/alpha1v1:CloudFirewall primary <- nodes",
        // infra/: the backup bucket in another region, its key, the provider that sets its rules
        "index/objectStorageBucket:ObjectStorageBucket backups <- backups",
        "index/objectStorageKey:ObjectStorageKey backup-writer <- backups",
        "index/randomId:RandomId backup-bucket-suffix <- backups",
        "index/randomPassword:RandomPassword api-token <- workloads",
        "providers:linode objects <- backups",
        // k8s/: the namespace, the Redis tier, the app tier (passwords come from config: none generated)
        "core/v1:Namespace redis-dr <- workloads",
        "core/v1:Secret redis-auth <- redis",
        "core/v1:ConfigMap redis-config <- redis",
        "core/v1:ConfigMap redis-scripts <- redis",
        "core/v1:Service redis-headless <- redis",
        "core/v1:Service redis-sentinel <- redis",
        "apps/v1:StatefulSet redis <- redis",
        "policy/v1:PodDisruptionBudget redis <- redis",
        "networking.k8s.io/v1:NetworkPolicy redis <- redis",
        "core/v1:Secret redis-dr-api <- app",
        "apps/v1:Deployment redis-dr-app <- app",
        "core/v1:Service redis-dr-app <- app",
        "dynamic:Resource app-load-balancer <- app",
        "policy/v1:PodDisruptionBudget redis-dr-app <- app",
        "networking.k8s.io/v1:NetworkPolicy redis-dr-app <- app",
        "core/v1:Secret redis-backup-store <- workloads",
        "batch/v1:CronJob redis-backup <- backup",
        "batch/v1:CronJob redis-backup-after-gap <- backup",
        "networking.k8s.io/v1:NetworkPolicy redis-backup <- backup",
        "apps/v1:Deployment redis-archiver <- archiver",
        "networking.k8s.io/v1:NetworkPolicy redis-archiver <- archiver",
      ].sort(),
    );
  });

  it("renders every Kubernetes object valid against the Kubernetes OpenAPI schema", () => {
    const objects = rendered.resources.filter(isKubernetesObject);
    expect(objects.length).toBe(21);
    for (const object of objects) expect(() => validateAgainstSchema(object), object.name).not.toThrow();
  });

  it("builds the LKE cluster from the config, with tags and the control plane mode", () => {
    const cluster = plain(one(rendered, T.cluster).inputs);
    expect(cluster.label).toBe(`redis-dr-${stack}`);
    expect(cluster.tags).toEqual(expect.arrayContaining(["redis-dr", `redis-dr-${stack}`, `env-${stack}`]));
    expect(cluster.controlPlane.highAvailability).toBe(stack === "prod");
    expect(cluster.pools[0].count).toBeGreaterThanOrEqual(3);
    if (stack === "prod") expect(cluster.pools[0].autoscaler).toEqual({ min: 5, max: 8 });
    else expect(cluster.pools[0].autoscaler).toBeUndefined();
  });

  it("firewalls the NodeBalancer to the public port only, attached once, at creation", () => {
    const firewall = one(rendered, T.firewall);
    const rules = plain(firewall.inputs);
    expect(rules.inboundPolicy).toBe("DROP");
    expect(rules.inbounds).toHaveLength(1);
    expect(rules.inbounds[0]).toMatchObject({ action: "ACCEPT", protocol: "TCP", ports: String(publicPort) });
    // Attached by the NodeBalancer's firewallId only, never by a device list as well.
    expect(rules.nodebalancers).toBeUndefined();
    expect(firewall.options.ignoreChanges).toEqual(expect.arrayContaining(["linodes", "nodebalancers"]));
    const nodeBalancer = one(rendered, T.nodeBalancer);
    expect(plain(nodeBalancer.inputs).firewallId).toBe(Number(MOCK_FIREWALL_ID));
    // The CCM owns the NodeBalancer's tags after creation.
    expect(nodeBalancer.options.ignoreChanges).toEqual(["tags"]);
  });

  it("binds the LoadBalancer Service to the Pulumi NodeBalancer and names its firewall for the CCM", () => {
    const serviceResource = one(rendered, T.service, "redis-dr-app");
    const service = plain(serviceResource.inputs);
    expect(service.spec.type).toBe("LoadBalancer");
    expect(service.spec.externalTrafficPolicy).toBe("Local");
    const annotations = service.metadata.annotations;
    expect(annotations).toMatchObject({
      [CCM_ANNOTATIONS.nodeBalancerId]: MOCK_NODEBALANCER.id,
      [CCM_ANNOTATIONS.firewallId]: MOCK_FIREWALL_ID,
      [CCM_ANNOTATIONS.preserve]: "true",
      [CCM_ANNOTATIONS.throttle]: String(plain(one(rendered, T.nodeBalancer).inputs).clientConnThrottle),
      [CCM_ANNOTATIONS.tags]: plain(one(rendered, T.nodeBalancer).inputs).tags.join(","),
      [CCM_ANNOTATIONS.checkType]: "http",
      [CCM_ANNOTATIONS.checkPath]: "/readyz",
      [CCM_ANNOTATIONS.checkInterval]: "5",
      [CCM_ANNOTATIONS.checkTimeout]: "3",
      [CCM_ANNOTATIONS.checkAttempts]: "2",
      [CCM_ANNOTATIONS.checkPassive]: "true",
    });
    expect(annotations[CCM_ANNOTATIONS.firewallAcl]).toBeUndefined();
    expect(service.spec.ports[0]).toMatchObject({ port: publicPort, targetPort: "http" });
    // The provider's unbounded await is off; the LoadBalancerWait resource waits instead (test/loadBalancerWait.test.ts).
    expect(annotations["pulumi.com/skipAwait"]).toBe("true");
    const wait = one(rendered, "pulumi-nodejs:dynamic:Resource", "app-load-balancer");
    expect(plain(wait.inputs).timeoutSeconds).toBe(300);
  });

  it("drains app pods for longer than the NodeBalancer takes to drop them", () => {
    const deployment = plain(one(rendered, T.deployment).inputs).spec.template.spec;
    const drain = Number(envOf(deployment.containers[0]).SHUTDOWN_DRAIN_SECONDS!.value);
    expect(drain).toBe(SHUTDOWN_DRAIN_SECONDS);
    expect(drain).toBeGreaterThan(NODEBALANCER_DETECTION_SECONDS);
    expect(deployment.terminationGracePeriodSeconds).toBeGreaterThan(drain);
  });

  it("closes the Kubernetes API to all but the configured ranges", () => {
    const cluster = plain(one(rendered, T.cluster).inputs);
    expect(cluster.controlPlane.acl.enabled).toBe(true);
    const allowed = [...(cluster.controlPlane.acl.addresses[0].ipv4s ?? []), ...(cluster.controlPlane.acl.addresses[0].ipv6s ?? [])];
    expect(allowed).toEqual(stack === "prod" ? ["203.0.113.0/24"] : ["0.0.0.0/0", "::/0"]);
  });

  it("puts every node behind Linode's cloud-firewall-controller, pinned, with its inbound-DROP defaults", () => {
    const releases = byType(rendered, T.helmRelease).map((r) => plain(r.inputs));
    expect(releases.map((r) => [r.chart, r.version, r.namespace])).toEqual([
      ["cloud-firewall-crd", "0.2.0", "kube-system"],
      ["cloud-firewall-controller", "0.2.1", "kube-system"],
    ]);
    for (const release of releases) expect(release.repositoryOpts.repo).toBe("https://linode.github.io/cloud-firewall-controller");
    const cr = plain(one(rendered, T.cloudFirewall).inputs);
    expect(cr.spec).toEqual({ defaultRules: true, ruleset: { inbound: [], inbound_policy: "DROP", outbound: [], outbound_policy: "ACCEPT" } });
    // What LKE needs (LKE network firewall docs); NodePorts only from the NodeBalancer backend range.
    const admits = (protocol: string, ports: string, source: string) =>
      NODE_FIREWALL_DEFAULT_RULES.some((r) => r.protocol === protocol && r.ports === ports && (r.sources as readonly string[]).includes(source));
    for (const [protocol, ports] of [["TCP", "10250,10256"], ["TCP", "179"], ["TCP", "53"], ["UDP", "53"], ["UDP", "51820"]]) {
      expect(admits(protocol!, ports!, "192.168.128.0/17"), `${protocol} ${ports}`).toBe(true);
    }
    const nodePortRules = NODE_FIREWALL_DEFAULT_RULES.filter((r) => r.ports === "30000-32767");
    expect(nodePortRules.flatMap((r) => r.sources)).toEqual(["192.168.255.0/24", "192.168.255.0/24"]);
  });

  it("selects pods with every Service, PDB and NetworkPolicy", () => {
    const podLabels = {
      redis: plain(one(rendered, T.statefulSet).inputs).spec.template.metadata.labels,
      app: plain(one(rendered, T.deployment).inputs).spec.template.metadata.labels,
    };
    const services = Object.fromEntries(byType(rendered, T.service).map((s) => [s.name, plain(s.inputs)]));
    expect(matches(services["redis-headless"].spec.selector, podLabels.redis)).toBe(true);
    expect(matches(services["redis-sentinel"].spec.selector, podLabels.redis)).toBe(true);
    expect(matches(services["redis-dr-app"].spec.selector, podLabels.app)).toBe(true);
    expect(matches(services["redis-dr-app"].spec.selector, podLabels.redis)).toBe(false);
    for (const pdb of byType(rendered, T.pdb).map((p) => plain(p.inputs))) {
      expect(pdb.spec.maxUnavailable).toBe(1);
      const target = pdb.metadata.name === "redis" ? podLabels.redis : podLabels.app;
      expect(matches(pdb.spec.selector.matchLabels, target)).toBe(true);
    }
    const redisPolicy = plain(one(rendered, T.netpol, "redis").inputs);
    expect(matches(redisPolicy.spec.podSelector.matchLabels, podLabels.redis)).toBe(true);
    const sources = redisPolicy.spec.ingress[0].from.map((f: any) => f.podSelector.matchLabels);
    expect(sources.some((s: Record<string, string>) => matches(s, podLabels.app))).toBe(true);
    expect(sources.some((s: Record<string, string>) => matches(s, podLabels.redis))).toBe(true);
    expect(redisPolicy.spec.ingress[0].ports.map((p: any) => p.port).sort()).toEqual([26379, 6379]);
  });

  it("points Services at the container ports that exist", () => {
    const redisPorts = ["redis", "sentinel"].flatMap((c) => container(rendered, T.statefulSet, c).ports.map((p: any) => p.name));
    const appPorts = container(rendered, T.deployment, "app").ports.map((p: any) => p.name);
    const services = Object.fromEntries(byType(rendered, T.service).map((s) => [s.name, plain(s.inputs)]));
    for (const port of services["redis-headless"].spec.ports) expect(redisPorts).toContain(port.targetPort);
    expect(services["redis-sentinel"].spec.ports).toEqual([{ name: "sentinel", port: 26379, targetPort: "sentinel" }]);
    expect(services["redis-headless"].spec.publishNotReadyAddresses).toBe(true);
    // The app finds Sentinel by this name; it must resolve while Redis readiness is failing.
    expect(services["redis-sentinel"].spec.publishNotReadyAddresses).toBe(true);
    for (const port of services["redis-dr-app"].spec.ports) expect(appPorts).toContain(port.targetPort);
  });

  it("wires the app's environment to what the C++ service reads, passwords via secretKeyRef", () => {
    const app = container(rendered, T.deployment, "app");
    const env = envOf(app);
    expect(env.SENTINEL_HOST!.value).toBe("redis-sentinel.redis-dr.svc.cluster.local");
    expect(env.SENTINEL_PORT!.value).toBe("26379");
    expect(env.REDIS_MASTER_NAME!.value).toBe("mymaster");
    expect(env.HTTP_PORT!.value).toBe(String(app.ports.find((p: any) => p.name === "http").containerPort));
    const secret = plain(one(rendered, T.secret, "redis-auth").inputs);
    for (const name of ["REDIS_PASSWORD", "SENTINEL_PASSWORD"]) {
      const ref = env[name]!.valueFrom.secretKeyRef;
      expect(ref.name).toBe(secret.metadata.name);
      expect(Object.keys(secret.stringData)).toContain(ref.key);
      expect(env[name]!.value).toBeUndefined();
    }
    // The app is the `app` user of Redis and of Sentinel, with the first of its passwords (the one in
    // use mid-rotation), and never holds the Sentinels' own password.
    expect(env.REDIS_USERNAME!.value).toBe("app");
    expect(env.SENTINEL_USERNAME!.value).toBe("app");
    expect(secret.stringData[env.REDIS_PASSWORD!.valueFrom.secretKeyRef.key]).toBe("App-Old-Password-0123456789");
    expect(env.SENTINEL_PASSWORD!.valueFrom.secretKeyRef.key).toBe(env.REDIS_PASSWORD!.valueFrom.secretKeyRef.key);
    expect(env.REDIS_WAIT_REPLICAS!.value).toBe(stack === "prod" ? "1" : "0");
  });

  it("probes the app on its own listener, which no Service exposes and only the monitoring namespace reaches", () => {
    const app = container(rendered, T.deployment, "app");
    expect(app.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "probe" });
    expect(app.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "probe" });
    expect(app.startupProbe.httpGet).toEqual({ path: "/healthz", port: "probe" });
    const probePort = app.ports.find((p: any) => p.name === "probe").containerPort;
    expect(envOf(app).PROBE_PORT!.value).toBe(String(probePort));
    expect(probePort).not.toBe(app.ports.find((p: any) => p.name === "http").containerPort);
    const service = plain(one(rendered, T.service, "redis-dr-app").inputs);
    expect(service.spec.ports.map((p: any) => p.targetPort)).toEqual(["http"]);
    const policy = plain(one(rendered, T.netpol, "redis-dr-app").inputs);
    const probeRule = policy.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === probePort));
    expect(probeRule.from).toEqual([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]);
    expect(probeRule.ports).toEqual([{ protocol: "TCP", port: probePort }]);
    const deployment = plain(one(rendered, T.deployment).inputs);
    expect(deployment.spec.template.spec.topologySpreadConstraints[0].topologyKey).toBe("kubernetes.io/hostname");
  });

  it("runs Redis and Sentinel as foreground scripts with probes and preStop hooks", () => {
    const redis = container(rendered, T.statefulSet, "redis");
    const sentinel = container(rendered, T.statefulSet, "sentinel");
    expect(redis.command).toEqual(["bash", "/scripts/start-redis.sh"]);
    expect(sentinel.command).toEqual(["bash", "/scripts/start-sentinel.sh"]);
    expect(redis.lifecycle.preStop.exec.command).toEqual(["bash", "/scripts/prestop-redis.sh"]);
    expect(sentinel.lifecycle.preStop.exec.command).toEqual(["bash", "/scripts/prestop-sentinel.sh"]);
    expect(redis.livenessProbe.exec.command).toEqual(["bash", "/scripts/probe-redis.sh", "liveness"]);
    expect(redis.readinessProbe.exec.command).toEqual(["bash", "/scripts/probe-redis.sh", "readiness"]);
    expect(redis.startupProbe.failureThreshold * redis.startupProbe.periodSeconds).toBeGreaterThanOrEqual(300);
    expect(redis.image).toMatch(/^redis:\d+\.\d+\.\d+/);
    // The Sentinel config lives on the writable volume, never a read-only ConfigMap file.
    expect(sentinel.volumeMounts.find((m: any) => m.name === "data")).toEqual({ name: "data", mountPath: "/data" });
    for (const mount of [...redis.volumeMounts, ...sentinel.volumeMounts]) expect(mount.subPath).toBeUndefined();
    const env = envOf(redis);
    expect(env.POD_FQDN!.value).toBe("$(POD_NAME).redis-headless.redis-dr.svc.cluster.local");
    expect(String(env.REDIS_NODES!.value).split(" ")).toEqual([0, 1, 2].map((i) => `redis-${i}.redis-headless.redis-dr.svc.cluster.local`));
  });

  it("runs the promotion follower beside them with the pod's environment, no port and a small fixed memory", () => {
    const redis = container(rendered, T.statefulSet, "redis");
    const follower = container(rendered, T.statefulSet, "promotion-follower");
    expect(follower.command).toEqual(["bash", "/scripts/follow-promotion.sh"]);
    expect(follower.image).toBe(redis.image);
    expect(follower.env).toEqual(redis.env);
    expect(envOf(follower).SENTINEL_PASSWORD!.valueFrom.secretKeyRef.key).toBe(SECRET_KEYS.sentinelPassword);
    expect(follower.ports).toBeUndefined();
    expect(follower.resources).toEqual({ requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "64Mi" } });
    expect(follower.volumeMounts.find((m: any) => m.name === "scripts")).toMatchObject({ mountPath: "/scripts", readOnly: true });
  });

  it("ships the scripts and rendered configs in ConfigMaps, executable", () => {
    const scripts = plain(one(rendered, T.configMap, "redis-scripts").inputs);
    const onDisk = fs.readdirSync(SCRIPT_DIR).filter((f) => f.endsWith(".sh")).sort();
    expect(Object.keys(scripts.data).sort()).toEqual(onDisk);
    for (const file of onDisk) expect(scripts.data[file]).toBe(fs.readFileSync(path.join(SCRIPT_DIR, file), "utf8"));
    const config = plain(one(rendered, T.configMap, "redis-config").inputs);
    expect(config.data["redis.conf"]).toMatch(/^daemonize no$/m);
    expect(config.data["redis.conf"]).toMatch(/^appendonly yes$/m);
    expect(config.data["redis.conf"]).toMatch(/^min-replicas-to-write 1$/m);
    expect(config.data["sentinel.conf"]).toMatch(/^sentinel monitor mymaster \{\{MASTER_HOST\}\} 6379 2$/m);
    expect(config.data["sentinel.conf"]).toMatch(/^sentinel down-after-milliseconds mymaster 5000$/m);
    const volumes = plain(one(rendered, T.statefulSet).inputs).spec.template.spec.volumes;
    expect(volumes.find((v: any) => v.name === "scripts").configMap.defaultMode).toBe(0o555);
  });

  it("keeps Redis pods on separate nodes and leaves failed nodes quickly", () => {
    const pod = plain(one(rendered, T.statefulSet).inputs).spec.template.spec;
    const [term] = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(term.topologyKey).toBe("kubernetes.io/hostname");
    expect(matches(term.labelSelector.matchLabels, plain(one(rendered, T.statefulSet).inputs).spec.template.metadata.labels)).toBe(true);
    const tolerations = Object.fromEntries(pod.tolerations.map((t: any) => [t.key, t.tolerationSeconds]));
    expect(tolerations).toEqual({ "node.kubernetes.io/not-ready": 30, "node.kubernetes.io/unreachable": 30 });
  });

  it("stores Redis data on a retained PVC of the configured class and size", () => {
    const set = plain(one(rendered, T.statefulSet).inputs).spec;
    const [claim] = set.volumeClaimTemplates;
    expect(claim.spec.storageClassName).toBe("linode-block-storage-retain");
    expect(claim.spec.resources.requests.storage).toBe(stack === "prod" ? "50Gi" : "10Gi");
    expect(set.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(set.template.spec.volumes.find((v: any) => v.name === "data")).toBeUndefined();
  });

  it("runs every container non-root with no capabilities and the RuntimeDefault seccomp profile", () => {
    for (const workload of [one(rendered, T.statefulSet), ...byType(rendered, T.deployment)]) {
      const pod = plain(workload.inputs).spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" });
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
        expect(c.resources.limits.memory).toBe(c.resources.requests.memory);
      }
    }
  });

  it("hands the Sentinels' own password to no workload but the Redis pods' redis and sentinel containers", () => {
    expect(JSON.stringify(plain(one(rendered, T.deployment).inputs))).not.toContain(SECRET_KEYS.sentinelPassword);
    const cronJobs = byType(rendered, "kubernetes:batch/v1:CronJob");
    expect(cronJobs.map((c) => c.name).sort()).toEqual([CRONJOB_NAME, AFTER_GAP_CRONJOB_NAME].sort());
    for (const cronJob of cronJobs) expect(JSON.stringify(plain(cronJob.inputs)), cronJob.name).not.toContain(SECRET_KEYS.sentinelPassword);
    for (const name of ["redis-exporter", "sentinel-exporter"]) expect(JSON.stringify(container(rendered, T.statefulSet, name))).not.toContain(SECRET_KEYS.sentinelPassword);
  });

  it("runs a redis_exporter sidecar for Redis and one for Sentinel, reachable only from the monitoring namespace", () => {
    const secretKeys = Object.keys(plain(one(rendered, T.secret, "redis-auth").inputs).stringData);
    for (const [name, port, metricsPort, key, user] of [
      ["redis-exporter", 6379, 9121, roleSecretKeys("monitor").current, "monitor"],
      // The Sentinel's `monitor` user too: no pod but the Sentinels' own holds the Sentinel admin password.
      ["sentinel-exporter", 26379, 9122, roleSecretKeys("monitor").current, "monitor"],
    ] as const) {
      const c = container(rendered, T.statefulSet, name);
      const env = envOf(c);
      expect(env.REDIS_USER?.value).toBe(user);
      expect(c.image).toBe("oliver006/redis_exporter:v1.90.0");
      expect(env.REDIS_ADDR!.value).toBe(`redis://localhost:${port}`);
      expect(env.REDIS_PASSWORD!.valueFrom.secretKeyRef.key).toBe(key);
      expect(secretKeys).toContain(key);
      expect(env.REDIS_EXPORTER_WEB_LISTEN_ADDRESS!.value).toBe(`:${metricsPort}`);
      // /scrape?target= would connect anywhere with this password; the monitor user may not CONFIG GET.
      expect(env.REDIS_EXPORTER_DISABLE_SCRAPE_ENDPOINT?.value).toBe("true");
      expect(env.REDIS_EXPORTER_CONFIG_COMMAND?.value).toBe(name === "redis-exporter" ? "-" : undefined);
      expect(c.ports[0].containerPort).toBe(metricsPort);
    }
    const redisPolicy = byType(rendered, T.netpol).map((r) => plain(r.inputs)).find((p) => p.metadata.name === "redis");
    const metricsRule = redisPolicy.spec.ingress.find((rule: any) => rule.ports.some((p: any) => p.port === 9121));
    expect(metricsRule.from).toEqual([{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }]);
    expect(metricsRule.ports.map((p: any) => p.port)).toEqual([9121, 9122]);
    // Only the Redis and app pods reach Redis and Sentinel themselves.
    const dataRule = redisPolicy.spec.ingress.find((rule: any) => rule.ports.some((p: any) => p.port === 6379));
    expect(dataRule.from.every((f: any) => f.podSelector && !f.namespaceSelector)).toBe(true);
  });

  it("sends passwords only as secrets and never exposes them in outputs", () => {
    const secretInputs = one(rendered, T.secret, "redis-auth").inputs;
    expect(isSecretWrapper(secretInputs.stringData)).toBe(true);
    expect(plain(secretInputs.stringData)).toEqual({
      [SECRET_KEYS.redisPassword]: REDIS_PASSWORD,
      [SECRET_KEYS.sentinelPassword]: SENTINEL_PASSWORD,
      ...Object.fromEntries(
        Object.entries(ROLE_PASSWORDS).flatMap(([user, list]) => [
          [roleSecretKeys(user).accepted, list],
          [roleSecretKeys(user).current, list.split(",")[0]],
        ]),
      ),
    });
    for (const resource of rendered.resources.filter((r) => r.type !== T.secret)) {
      const text = JSON.stringify(plain(resource.inputs));
      for (const password of EVERY_PASSWORD) expect(text, resource.name).not.toContain(password);
    }
    for (const [name, value] of Object.entries(rendered.outputs)) {
      const text = JSON.stringify(value) ?? "";
      if (EVERY_PASSWORD.some((password) => text.includes(password))) expect(rendered.secretOutputs, name).toContain(name);
    }
  });

  it("exports the documented outputs, the kubeconfig as a secret", () => {
    expect(rendered.outputs).toMatchObject({
      nodeBalancerIpv4: MOCK_NODEBALANCER.ipv4,
      nodeBalancerHostname: MOCK_NODEBALANCER.hostname,
      publicEntryMode: "pulumi",
      // prod ships HTTPS on 443 (the schema refuses plain HTTP there), dev plain HTTP on 80.
      publicUrl: `${stack === "prod" ? "https" : "http"}://${MOCK_NODEBALANCER.ipv4}/`,
      clusterId: "cluster-id",
      namespace: "redis-dr",
      sentinelService: "redis-sentinel",
    });
    expect(rendered.outputs.kubeconfig).toMatch(/^apiVersion: v1/);
    expect(rendered.secretOutputs).toEqual(new Set(["kubeconfig", "apiToken"]));
  });
});

describe("program with prometheusOperator", () => {
  it("deploys the alert rules file as a PrometheusRule and PodMonitors for the exporters and the app", async () => {
    const rendered = await renderStack("prod", { "redis-dr:prometheusOperator": "true" });
    const rule = plain(one(rendered, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs);
    expect(rule.spec.groups).toEqual(alertRuleGroups());
    expect(rule.spec.groups.flatMap((g: AlertRuleGroup) => g.rules.map((r) => r.alert))).toEqual(ALERTS);
    const pods = Object.fromEntries(
      [T.statefulSet, T.deployment].map((type) => {
        const template = plain(one(rendered, type).inputs).spec.template;
        return [type, { labels: template.metadata.labels, ports: template.spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name)) }];
      }),
    );
    const monitors = byType(rendered, "kubernetes:monitoring.coreos.com/v1:PodMonitor").map((r) => plain(r.inputs).spec);
    expect(monitors).toHaveLength(2);
    for (const monitor of monitors) {
      const pod = Object.values(pods).find((p: any) => matches(monitor.selector.matchLabels, p.labels)) as { ports: string[] } | undefined;
      expect(pod, JSON.stringify(monitor.selector)).toBeDefined();
      for (const endpoint of monitor.podMetricsEndpoints) expect(pod!.ports).toContain(endpoint.port);
    }
    for (const object of rendered.resources.filter(isKubernetesObject)) expect(() => validateAgainstSchema(object), object.name).not.toThrow();
  });

  it("creates no prometheus-operator object unless asked (its CRDs may be missing)", async () => {
    const rendered = await renderStack("dev");
    expect(rendered.resources.filter((r) => r.type.includes("monitoring.coreos.com"))).toEqual([]);
  });
});

describe("program without password config", () => {
  it("generates every password and an API token and still keeps them secret", async () => {
    const rendered = await renderStack("dev");
    expect(byType(rendered, "random:index/randomPassword:RandomPassword").map((r) => [r.name, r.inputs])).toEqual([
      ["redis-password", expect.objectContaining({ length: 40, special: false })],
      ["sentinel-password", expect.objectContaining({ length: 40, special: false })],
      ...ROLE_USERS.map((user) => [`redis-${user}-password`, expect.objectContaining({ length: 40, special: false })]),
      ["api-token", expect.objectContaining({ length: 48, special: false })],
    ]);
    for (const name of ["redis-auth", "redis-dr-api"]) expect(isSecretWrapper(one(rendered, T.secret, name).inputs.stringData)).toBe(true);
    // The generated token is an output (clients need it), and only as a secret.
    const holding = Object.entries(rendered.outputs).filter(([, v]) => (JSON.stringify(v) ?? "").includes(MOCK_GENERATED_PASSWORD)).map(([k]) => k);
    expect(holding).toEqual(["apiToken"]);
    expect(rendered.secretOutputs).toContain("apiToken");
  });
});

describe("program with API tokens configured", () => {
  const OLD = "old-api-token-0123456789abcdef0123456789";
  const NEW = "new-api-token-0123456789abcdef0123456789";

  it("hands the tokens to the app only by secretKeyRef, exports the newest, and rolls the pods when they change", async () => {
    const render = (tokens: string) => renderStack("prod", {}, { "redis-dr:apiTokens": tokens });
    const rendered = await render(`${OLD},${NEW}`);
    const secret = one(rendered, T.secret, "redis-dr-api").inputs;
    expect(isSecretWrapper(secret.stringData)).toBe(true);
    expect(plain(secret.stringData)).toEqual({ tokens: `${OLD},${NEW}` });
    const app = container(rendered, T.deployment, "app");
    expect(envOf(app).API_TOKENS!.valueFrom.secretKeyRef).toEqual({ name: "redis-dr-api", key: "tokens" });
    for (const resource of rendered.resources.filter((r) => r.type !== T.secret)) {
      expect(JSON.stringify(plain(resource.inputs)), resource.name).not.toContain(OLD);
    }
    expect(rendered.outputs.apiToken).toBe(NEW);
    expect(rendered.secretOutputs).toContain("apiToken");
    const checksum = (r: typeof rendered) => plain(one(r, T.deployment).inputs).spec.template.metadata.annotations["redis-dr/api-tokens-checksum"];
    expect(checksum(rendered)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(await render(NEW))).not.toBe(checksum(rendered));
  });
});

describe("program with Redis users' passwords configured", () => {
  it("gives each Redis container every accepted password, and rolls the Redis and app pods when one changes", async () => {
    const rendered = await renderStack("prod", {}, SECRET_CONFIG);
    const redis = envOf(container(rendered, T.statefulSet, "redis"));
    for (const user of ROLE_USERS) {
      expect(redis[ACL_USERS[user].variable]!.valueFrom.secretKeyRef.key).toBe(roleSecretKeys(user).accepted);
    }
    const config = plain(one(rendered, T.configMap, "redis-config").inputs).data;
    expect(config["users.acl"]).toBe(renderAclUsers());
    const annotations = (r: RenderedStack, type: string) => plain(one(r, type).inputs).spec.template.metadata.annotations;
    const rotated = await renderStack("prod", {}, { ...SECRET_CONFIG, "redis-dr:appRedisPasswords": "App-New-Password-0123456789,App-Old-Password-0123456789" });
    expect(annotations(rendered, T.statefulSet)["redis-dr/secret-checksum"]).toMatch(/^[0-9a-f]{64}$/);
    expect(annotations(rotated, T.statefulSet)["redis-dr/secret-checksum"]).not.toBe(annotations(rendered, T.statefulSet)["redis-dr/secret-checksum"]);
    expect(annotations(rotated, T.deployment)["redis-dr/redis-credentials-checksum"]).not.toBe(annotations(rendered, T.deployment)["redis-dr/redis-credentials-checksum"]);
    // Only the order changed: the pods roll, and Redis accepts the same two passwords throughout.
    expect(plain(one(rotated, T.secret, "redis-auth").inputs).stringData[roleSecretKeys("app").current]).toBe("App-New-Password-0123456789");
  });

  it("refuses a Redis user's password list with a bad entry, naming it by position only", async () => {
    await expect(renderStack("prod", {}, { ...SECRET_CONFIG, "redis-dr:replicationPasswords": "Replication-Password-0123456789,short" })).rejects.toThrow(
      /redis-dr:replicationPasswords: password 2 must be 16-128 characters/,
    );
  });
});

describe("program with publicEntry reserved-ip", () => {
  it("reserves an IPv4 in the cluster's region, creates no NodeBalancer or firewall, and hands both to the CCM", async () => {
    const rendered = await renderStack("prod", { "redis-dr:publicEntry": "reserved-ip", "redis-dr:publicIngressCidrs": '["198.51.100.0/24", "2001:db8::/32"]' });
    expect(byType(rendered, T.nodeBalancer)).toEqual([]);
    expect(byType(rendered, T.firewall)).toEqual([]);
    const ip = one(rendered, T.reservedIp);
    expect(plain(ip.inputs)).toEqual({ type: "ipv4", public: true, reserved: true, region: "us-ord" });
    expect(ip.options.protect).toBe(true);
    const annotations = plain(one(rendered, T.service, "redis-dr-app").inputs).metadata.annotations;
    expect(annotations).toMatchObject({
      [CCM_ANNOTATIONS.reservedIpv4]: MOCK_RESERVED_IPV4,
      [CCM_ANNOTATIONS.retainReservedIpv4]: "true",
      [CCM_ANNOTATIONS.preserve]: "false",
      [CCM_ANNOTATIONS.checkPath]: "/readyz",
    });
    expect(JSON.parse(annotations[CCM_ANNOTATIONS.firewallAcl])).toEqual({ allowList: { ipv4: ["198.51.100.0/24"], ipv6: ["2001:db8::/32"] } });
    for (const key of [CCM_ANNOTATIONS.nodeBalancerId, CCM_ANNOTATIONS.firewallId]) expect(annotations[key]).toBeUndefined();
    expect(rendered.outputs).toMatchObject({ publicEntryMode: "reserved-ip", nodeBalancerIpv4: MOCK_RESERVED_IPV4, publicUrl: `https://${MOCK_RESERVED_IPV4}/` });
    expect(rendered.outputs.nodeBalancerHostname).toBeUndefined();
  });
});

describe("program with bad config", () => {
  it("fails before registering any resource", async () => {
    let registered = -1;
    await expect(
      renderStack("dev", { "redis-dr:nodeCount": "2" }).then((r) => (registered = r.resources.length)),
    ).rejects.toThrow(/redis-dr:nodeCount: must be at least 3/);
    expect(registered).toBe(-1);
  });

  it("refuses a stack name LKE would reject before registering any resource", async () => {
    await expect(renderStack("dev", {}, {}, "qa_1")).rejects.toThrow(/stack name "qa_1": must be 1-16 letters, digits and -/);
  });

  it("uses the public port everywhere it appears", async () => {
    const rendered = await renderStack("dev", { "redis-dr:publicPort": "8443" });
    expect(plain(one(rendered, T.firewall).inputs).inbounds[0].ports).toBe("8443");
    expect(plain(one(rendered, T.service, "redis-dr-app").inputs).spec.ports[0].port).toBe(8443);
    expect(rendered.outputs.publicUrl).toBe(`http://${MOCK_NODEBALANCER.ipv4}:8443/`);
  });
});

describe("pod scripts", () => {
  it("are executable where they are run from, as the ConfigMap's mode 0555 makes them in the pod", () => {
    for (const file of fs.readdirSync(SCRIPT_DIR).filter((f) => f.endsWith(".sh"))) {
      expect(fs.statSync(path.join(SCRIPT_DIR, file)).mode & 0o111, file).toBe(0o111);
    }
  });
});
