import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { clusterObjects, ClusterObjects, workloadNamed } from "../local/cluster/objects";
import { expandReferences, localPath, PodSpec, podSpec } from "../local/cluster/podSpec";
import { renderStack } from "./helpers/pulumiMocks";

// The local pods come from the objects the real program renders: these tests pin down that
// what the kubelet runs is exactly what the StatefulSet and Deployment say.
const SECRETS = {
  "redis-dr:redisPassword": "local-admin-password-0123456789",
  "redis-dr:sentinelPassword": "local-sentinel-password-0123456789",
  "redis-dr:apiTokens": "local-api-token-0123456789abcdef0123",
};

function place(objects: ClusterObjects, kind: "StatefulSet" | "Deployment", name: string, podName: string): { spec: PodSpec; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-podspec-"));
  const spec = podSpec(workloadNamed(objects, kind, name), { name: podName, ip: "10.0.0.7", dir, claimsDir: path.join(dir, "claims"), images: { "ghcr.io/redis-dr/redis-dr-app:0.1.0": ["/bin/app"] } }, objects);
  return { spec, dir };
}

describe("pods from the rendered program", () => {
  let objects: ClusterObjects;
  beforeAll(async () => {
    objects = clusterObjects((await renderStack("dev", {}, SECRETS)).resources);
  });

  it("runs each Redis container's own command from the scripts ConfigMap, mounted where the pod mounts it", () => {
    const { spec, dir } = place(objects, "StatefulSet", "redis", "redis-1");
    const redis = spec.containers.find((c) => c.name === "redis")!;
    expect(redis.argv).toEqual(["bash", path.join(dir, "volumes/scripts/start-redis.sh")]);
    const script = fs.readFileSync(redis.argv[1]!, "utf8");
    expect(script).toBe(objects.configMaps.get("redis-scripts")!["start-redis.sh"]);
    expect(fs.statSync(redis.argv[1]!).mode & 0o777).toBe(0o555);
    expect(fs.readFileSync(path.join(redis.env.CONFIG_DIR!, "redis.conf"), "utf8")).toBe(objects.configMaps.get("redis-config")!["redis.conf"]);
    expect(redis.env.DATA_DIR).toBe(path.join(dir, "claims/data-redis-1"));
    expect(localPath(redis, "/scripts/switchover.sh")).toBe(path.join(dir, "volumes/scripts/switchover.sh"));
    expect(localPath(redis, "/etc/hosts")).toBe("/etc/hosts");
    expect(spec.containers.map((c) => c.name)).toEqual(["redis", "sentinel", "promotion-follower"]);
    expect(spec.skipped.map((s) => s.name)).toEqual(["redis-exporter", "sentinel-exporter"]);
  });

  it("resolves the environment: field references, $(VAR) expansion and Secret keys", () => {
    const { spec } = place(objects, "StatefulSet", "redis", "redis-2");
    const env = spec.containers.find((c) => c.name === "sentinel")!.env;
    expect(env.POD_NAME).toBe("redis-2");
    expect(env.POD_FQDN).toBe("redis-2.redis-headless.redis-dr.svc.cluster.local");
    expect(env.REDIS_PASSWORD).toBe(SECRETS["redis-dr:redisPassword"]);
    expect(env.SENTINEL_PASSWORD).toBe(SECRETS["redis-dr:sentinelPassword"]);
    expect(env.REDIS_NODES!.split(" ")).toHaveLength(3);
  });

  it("carries the probes, the preStop hook and the grace period as rendered", () => {
    const { spec, dir } = place(objects, "StatefulSet", "redis", "redis-0");
    const redis = spec.containers.find((c) => c.name === "redis")!;
    expect(redis.readiness).toEqual({
      action: { kind: "exec", argv: ["bash", path.join(dir, "volumes/scripts/probe-redis.sh"), "readiness"] },
      initialDelayMs: 0,
      periodMs: 5000,
      timeoutMs: 4000,
      successThreshold: 1,
      failureThreshold: 2,
    });
    expect(redis.preStop).toEqual({ kind: "exec", argv: ["bash", path.join(dir, "volumes/scripts/prestop-redis.sh")] });
    expect(spec.graceMs).toBe(60_000);
    const app = place(objects, "Deployment", "redis-dr-app", "redis-dr-app-a").spec.containers[0]!;
    expect(app.argv).toEqual(["/bin/app"]);
    expect(app.readiness?.action).toEqual({ kind: "http", port: 8081, path: "/readyz" });
    expect(app.env.API_TOKENS).toBe(SECRETS["redis-dr:apiTokens"]);
  });

  it("follows a change in the program: a probe threshold and an env var", async () => {
    const changed = clusterObjects((await renderStack("dev", { "redis-dr:redisTerminationGraceSeconds": "90", "redis-dr:sentinelDownAfterMs": "7000" }, SECRETS)).resources);
    const before = place(objects, "StatefulSet", "redis", "redis-0").spec;
    const after = place(changed, "StatefulSet", "redis", "redis-0").spec;
    expect(after.graceMs).toBe(90_000);
    const discovery = (s: PodSpec) => s.containers[0]!.env.DISCOVERY_TIMEOUT_SECONDS;
    expect(discovery(after)).not.toBe(discovery(before));
    // A threshold edited in the rendered object (as an edit of k8s/redisTier.ts would) reaches the kubelet's spec.
    const redisSet = workloadNamed(changed, "StatefulSet", "redis");
    redisSet.template.spec.containers[0]!.readinessProbe!.failureThreshold = 7;
    expect(place(changed, "StatefulSet", "redis", "redis-0").spec.containers[0]!.readiness!.failureThreshold).toBe(7);
  });

  it("refuses a reference the rendered objects cannot satisfy, naming it", () => {
    const broken: ClusterObjects = { ...objects, secrets: new Map() };
    expect(() => place(broken, "StatefulSet", "redis", "redis-0")).toThrow(/env REDIS_PASSWORD: Secret "redis-auth" has no key/);
  });

  it("expands $(VAR) as Kubernetes does", () => {
    expect(expandReferences("$(A).$(B)-$$(A)-$(C)", { A: "a", B: "b" })).toBe("a.b-$(A)-$(C)");
  });
});
