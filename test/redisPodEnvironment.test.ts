import * as fs from "fs";
import * as path from "path";
import { CRONJOB_NAME } from "../k8s/backup/backupJob";
import { beforeAll, describe, expect, it } from "vitest";
import { ACL_USERS } from "../k8s/redis/acl";
import {
  BACKUP_SECRET_VARIABLES,
  POD_NAME_VARIABLE,
  podPasswordSecretKey,
  REDIS_POD_SECRET_VARIABLES,
  redisPodVariables,
  scriptEnvironment,
} from "../k8s/redis/podEnvironment";
import { SCRIPT_DIR, SCRIPT_FILES } from "../k8s/redis/render";
import { backupSettings } from "../k8s/backup/settings";
import { backupTarget, localBackupEnvironment } from "../local/backup/job";
import { podPassword } from "../local/credentials";
import { clusterObjects, workloadNamed } from "../local/cluster/objects";
import { podSpec } from "../local/cluster/podSpec";
import { localSecretConfig } from "../local/cluster/render";
import { FAST_FAILOVER_CFG, TEST_API_TOKEN, TEST_CREDENTIALS } from "./helpers/fastFailover";
import { plain } from "./helpers/k8sObjects";
import { one, RenderedStack, renderStack } from "./helpers/pulumiMocks";
import { REPO_ROOT, stackConfig } from "./helpers/stackConfig";
import * as os from "os";

// The Redis pod scripts' environment contract against the scripts and against everything that
// runs them: the StatefulSet, the backup CronJob, the local pods and the local backup job.
const script = (name: string) => fs.readFileSync(path.join(SCRIPT_DIR, name), "utf8");
const SCRIPTS = fs.readdirSync(SCRIPT_DIR).filter((f) => f.endsWith(".sh"));
/** What a Redis pod's containers run: every script but the backup job's own. */
const POD_SCRIPTS = SCRIPTS.filter((f) => !["backup.sh", "objectstore.sh", "scratch.sh", "seed.sh", "restore.sh", "archivestore.sh", "undo.sh", "archive.sh"].includes(f));
/** Variables a script refuses to start without (`: "${NAME:?...}"`). */
const requiredBy = (files: string[]) => [...new Set(files.flatMap((f) => [...script(f).matchAll(/\$\{([A-Z][A-Z0-9_]*):\?[^}]/g)].map((m) => m[1]!)))];
/** lib.sh reads each role user's variable by the name users.acl gives it (`${!variable}`). */
const READ_THROUGH_USERS_ACL: string[] = script("lib.sh").includes("${!variable") ? Object.values(ACL_USERS).map((user) => user.variable) : [];
const readBySomeScript = (name: string) => READ_THROUGH_USERS_ACL.includes(name) || SCRIPTS.some((f) => new RegExp(`\\$\\{?${name}\\b`).test(script(f)));

type EnvVar = { name: string; value?: unknown; valueFrom?: { secretKeyRef?: { key: string } } };
const envOf = (container: { env: EnvVar[] }) => Object.fromEntries(container.env.map((e) => [e.name, e]));
const cfg = FAST_FAILOVER_CFG;
const prodCfg = stackConfig("prod");
const podDeclared = [POD_NAME_VARIABLE, ...Object.keys(redisPodVariables(cfg)), ...Object.keys(REDIS_POD_SECRET_VARIABLES)];

describe("the Redis pod environment contract", () => {
  let rendered: RenderedStack;
  beforeAll(async () => {
    rendered = await renderStack("prod");
  });

  it("declares only variables the scripts read, and every one a pod's scripts require", () => {
    expect(podDeclared.filter((name) => !readBySomeScript(name))).toEqual([]);
    expect(requiredBy(POD_SCRIPTS).length).toBeGreaterThanOrEqual(7);
    expect(requiredBy(POD_SCRIPTS).filter((name) => !podDeclared.includes(name))).toEqual([]);
  });

  it("is the table of docs/failover.md", () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, "docs/failover.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Pod environment contract"), doc.indexOf("\n## ", doc.indexOf("## Pod environment contract") + 1));
    const documented = [...section.matchAll(/^\| ([^|]+) \|/gm)].flatMap((row) => [...row[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!));
    expect(documented.sort()).toEqual([...podDeclared].sort());
  });

  it("is exactly what each script container of the StatefulSet gets, every password by secretKeyRef to a key of redis-auth", () => {
    const pod = plain(one(rendered, "kubernetes:apps/v1:StatefulSet").inputs).spec.template.spec;
    const secretData = plain(one(rendered, "kubernetes:core/v1:Secret", "redis-auth").inputs).stringData;
    const values = redisPodVariables(prodCfg);
    for (const name of ["redis", "sentinel", "promotion-follower"]) {
      const env = envOf(pod.containers.find((c: { name: string }) => c.name === name));
      expect(Object.keys(env).sort(), name).toEqual(["POD_NAME", ...podDeclared].sort());
      for (const [variable, value] of Object.entries(values)) expect(env[variable]!.value, `${name} ${variable}`).toBe(value);
      for (const [variable, password] of Object.entries(REDIS_POD_SECRET_VARIABLES)) {
        expect(env[variable]!.value).toBeUndefined();
        expect(env[variable]!.valueFrom!.secretKeyRef!.key).toBe(podPasswordSecretKey(password));
        expect(Object.keys(secretData)).toContain(podPasswordSecretKey(password));
      }
    }
  });

  it("gives the backup CronJob what lib.sh and the store require, its passwords by secretKeyRef", () => {
    const job = plain(one(rendered, "kubernetes:batch/v1:CronJob", CRONJOB_NAME).inputs).spec.jobTemplate.spec.template.spec.containers[0];
    const env = envOf(job);
    expect(requiredBy(["lib.sh", "objectstore.sh"]).filter((name) => !(name in env))).toEqual([]);
    for (const [variable, value] of Object.entries(scriptEnvironment(prodCfg))) expect(env[variable]!.value).toBe(value);
    for (const [variable, password] of Object.entries(BACKUP_SECRET_VARIABLES)) expect(env[variable]!.valueFrom!.secretKeyRef!.key).toBe(podPasswordSecretKey(password));
    // Least privilege: no role user's password reaches the job.
    expect(Object.keys(env).filter((name) => name.endsWith("_PASSWORDS"))).toEqual([]);
  });

  it("is what a local pod and the local backup job run with, passwords from the rendered Secret", async () => {
    const objects = clusterObjects((await renderStack("dev", {}, localSecretConfig(TEST_CREDENTIALS, TEST_API_TOKEN))).resources);
    const statefulSet = workloadNamed(objects, "StatefulSet", "redis");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-env-test-"));
    const pod = podSpec(statefulSet, { name: "redis-1", ip: "10.0.0.11", dir, claimsDir: path.join(dir, "claims"), images: {} }, objects);
    const fqdn = (name: string) => `${name}.redis-headless.redis-dr.svc.cluster.local`;
    for (const container of pod.containers) {
      expect(Object.keys(container.env).sort(), container.name).toEqual(["POD_NAME", ...podDeclared].sort());
      expect(container.env).toMatchObject({ POD_NAME: "redis-1", [POD_NAME_VARIABLE]: fqdn("redis-1"), REDIS_NODES: [0, 1, 2].map((i) => fqdn(`redis-${i}`)).join(" "), DATA_DIR: path.join(dir, "claims/data-redis-1") });
      for (const [variable, password] of Object.entries(REDIS_POD_SECRET_VARIABLES)) expect(container.env[variable], variable).toBe(podPassword(TEST_CREDENTIALS, password));
    }

    const store = { endpoint: "http://127.0.0.1:1", bucket: "b", region: "r", accessKeyId: "a", secretAccessKey: "s" };
    const target = backupTarget(cfg, [0, 1, 2].map((i) => fqdn(`redis-${i}`)), pod.containers[0]!.env);
    const backup = localBackupEnvironment({ target, store, settings: backupSettings(cfg), scratchDir: "/tmp/x" });
    expect(requiredBy(["lib.sh", "objectstore.sh"]).filter((name) => backup[name] === undefined)).toEqual([]);
    for (const [variable, password] of Object.entries(BACKUP_SECRET_VARIABLES)) expect(backup[variable]).toBe(podPassword(TEST_CREDENTIALS, password));
    expect(Object.keys(backup).filter((name) => name.endsWith("_PASSWORDS"))).toEqual([]);
  });
});

describe("the scripts ConfigMap", () => {
  it("carries every pod script and every file a script sources, so none is missing where the pods run", () => {
    const shipped = new Set<string>(SCRIPT_FILES);
    expect(SCRIPTS.filter((f) => !shipped.has(f))).toEqual([]);
    const sourced = SCRIPTS.flatMap((f) => [...script(f).matchAll(/^\s*(?:source|\.) "\$SCRIPTS\/([\w.-]+)"/gm)].map((m) => m[1]!));
    expect(sourced).toContain("undo.sh");
    expect(sourced.filter((f) => !shipped.has(f))).toEqual([]);
  });
});
