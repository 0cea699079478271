import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { ARCHIVER_BINARY_PATH, TOOLS_PATH } from "../k8s/backup/tools";
import { STORE_KEY_VARIABLES, STORE_SECRET_KEYS, STORE_SECRET_NAME } from "../k8s/backup/settings";
import { podFqdns, REDIS_PORT, renderRedisConf, REPLICA_PING_PERIOD_SECONDS, roleSecretKeys } from "../k8s/redis/render";
import { plain } from "./helpers/k8sObjects";
import { one, RenderedStack, renderStack } from "./helpers/pulumiMocks";
import { REPO_ROOT, stackConfig } from "./helpers/stackConfig";

// The continuous archive's workload (k8s/archive/), rendered under mocks: what it runs, what it
// is given, and that its secrets come only by reference.
const T = { deployment: "kubernetes:apps/v1:Deployment", secret: "kubernetes:core/v1:Secret" };
type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
const envOf = (container: { env: EnvVar[] }) => Object.fromEntries(container.env.map((e) => [e.name, e]));

describe("the archiver under Pulumi mocks", () => {
  let rendered: RenderedStack;
  let pod: any;
  const container = (name: string) => pod.containers.find((c: { name: string }) => c.name === name) ?? pod.initContainers.find((c: { name: string }) => c.name === name);
  beforeAll(async () => {
    rendered = await renderStack("dev", { "redis-dr:archiveIntervalMs": "800" });
    const deployment = plain(one(rendered, T.deployment, "redis-archiver").inputs);
    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
    pod = deployment.spec.template.spec;
  });

  it("follows the Redis pods by name with redis-dr-archiver from the archiver image, as the archiver user", () => {
    const archiver = container("archiver");
    const cfg = stackConfig("dev");
    expect(archiver.image).toBe(cfg.archiverImage);
    expect(archiver.command).toEqual([ARCHIVER_BINARY_PATH, "follow"]);
    expect(fs.readFileSync(path.join(REPO_ROOT, "app/Dockerfile"), "utf8")).toContain(`/src/build/redis-dr-archiver ${ARCHIVER_BINARY_PATH}`);
    const env = envOf(archiver);
    expect(env.REDIS_NODES!.value).toBe(podFqdns(cfg).map((f) => `${f}:${REDIS_PORT}`).join(","));
    expect(env.ARCHIVER_USER!.value).toBe("archiver");
    expect(env.ARCHIVE_SEGMENT_MS!.value).toBe("200");
    // A segment of pings and hellos only waits the replica ping period the redis.conf sets.
    expect(env.ARCHIVE_IDLE_SEGMENT_MS!.value).toBe(String(REPLICA_PING_PERIOD_SECONDS * 1000));
    expect(env.REDIS_PASSWORD!.value).toBeUndefined();
    expect(env.REDIS_PASSWORD!.valueFrom!.secretKeyRef).toEqual({ name: "redis-auth", key: roleSecretKeys("archiver").current });
  });

  it("resumes from the store before it follows, and ships with the bucket's key only by reference", () => {
    expect(pod.initContainers.map((c: { name: string }) => c.name)).toEqual(["tools", "resume"]);
    for (const name of ["resume", "shipper"]) {
      const c = container(name);
      expect(c.command.slice(1)).toEqual(["/scripts/archive.sh", name === "resume" ? "resume" : "ship"]);
      const env = envOf(c);
      expect(env.ARCHIVE_PREFIX!.value).toBe("archive");
      for (const [variable, key] of [
        [STORE_KEY_VARIABLES.accessKeyId, STORE_SECRET_KEYS.accessKeyId],
        [STORE_KEY_VARIABLES.secretAccessKey, STORE_SECRET_KEYS.secretAccessKey],
      ] as const) {
        expect(env[variable]!.value).toBeUndefined();
        expect(env[variable]!.valueFrom!.secretKeyRef).toEqual({ name: STORE_SECRET_NAME, key });
      }
      // The shipper never holds a Redis password: it only moves files.
      expect(Object.keys(env).filter((n) => n.includes("PASSWORD"))).toEqual([]);
    }
    expect(envOf(container("shipper")).ARCHIVE_SHIP_MS!.value).toBe("80");
  });

  it("gives the shipper's uploader the CA bundle the tools init container copies, since libcurl reads no CURL_CA_BUNDLE itself", () => {
    const shipper = container("shipper");
    const bundle = envOf(shipper).CURL_CA_BUNDLE!.value!;
    expect(path.dirname(bundle)).toBe(TOOLS_PATH);
    expect(shipper.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toContain(TOOLS_PATH);
    const tools = container("tools");
    expect(tools.command.at(-1)).toBe(`${TOOLS_PATH}/`);
    expect(tools.command.map((file: string) => path.basename(file))).toContain(path.basename(bundle));
  });

  it("gives the shipper the ArchiveLagging threshold, and the Pushgateway only when one is configured", async () => {
    // 10 intervals of 0.8 s, the replica ping period the conf sets, one push a second.
    expect(renderRedisConf(stackConfig("dev"))).toContain(`repl-ping-replica-period ${REPLICA_PING_PERIOD_SECONDS}\n`);
    expect(envOf(container("shipper")).ARCHIVE_MAX_LAG_SECONDS!.value).toBe(String(8 + REPLICA_PING_PERIOD_SECONDS + 1));
    expect(envOf(container("shipper")).PUSHGATEWAY).toBeUndefined();
    const withGateway = await renderStack("dev", { "redis-dr:backupPushgateway": "pushgateway.monitoring.svc:9091" });
    const shipper = plain(one(withGateway, T.deployment, "redis-archiver").inputs).spec.template.spec.containers.find((c: { name: string }) => c.name === "shipper");
    expect(envOf(shipper).PUSHGATEWAY).toEqual({ name: "PUSHGATEWAY", value: "pushgateway.monitoring.svc:9091" });
  });

  it("bounds the spool on the pod's disk", () => {
    expect(pod.volumes.find((v: { name: string }) => v.name === "spool")).toEqual({ name: "spool", emptyDir: { sizeLimit: "1Gi" } });
  });

  it("refuses an archive interval it cannot meet, before anything is created", async () => {
    await expect(renderStack("dev", { "redis-dr:archiveIntervalMs": "50" })).rejects.toThrow(/archiveIntervalMs/);
  });
});
