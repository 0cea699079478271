import { describe, expect, it } from "vitest";
import { parseStackConfig, StackConfigError, validateStackName } from "../config/load";
import { parseImage, redisImageVulnerability } from "../config/schema";
import { rawStackConfig, stackConfig, stackConfigWithout, StackName } from "./helpers/stackConfig";

function problemsFor(overrides: Record<string, string>, remove: string[] = [], stack: StackName = "dev"): string[] {
  const raw: Record<string, string> = { ...rawStackConfig(stack), ...overrides };
  for (const key of remove) delete raw[key];
  try {
    parseStackConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as StackConfigError).problems;
  }
  throw new Error("config was accepted");
}

describe("stack config", () => {
  it("accepts both stack files and types their values", () => {
    const dev = stackConfig("dev");
    expect(dev.nodeCount).toBe(3);
    expect(dev.haControlPlane).toBe(false);
    expect(dev.tags).toEqual(["env-dev"]);
    const prod = stackConfig("prod");
    expect(prod.haControlPlane).toBe(true);
    expect(prod.nodeCount).toBeGreaterThan(dev.nodeCount);
    expect(prod.autoscalerMin).toBe(5);
    expect(prod.appWaitReplicas).toBe(1);
  });

  it("prod is larger than dev where it matters", () => {
    const dev = stackConfig("dev");
    const prod = stackConfig("prod");
    expect(parseInt(prod.volumeSize)).toBeGreaterThan(parseInt(dev.volumeSize));
    expect(prod.appReplicas).toBeGreaterThan(dev.appReplicas);
  });

  it("fills documented defaults for keys a stack leaves out", () => {
    const cfg = parseStackConfig(
      Object.fromEntries(Object.entries(rawStackConfig("dev")).filter(([k]) => k !== "redis-dr:storageClass" && k !== "redis-dr:masterName")),
    );
    expect(cfg.storageClass).toBe("linode-block-storage-retain");
    expect(cfg.masterName).toBe("mymaster");
    expect(cfg.redisReplicas).toBe(3);
  });

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ["node count below 3", { "redis-dr:nodeCount": "2" }, /redis-dr:nodeCount: must be at least 3.*fix: pulumi config set redis-dr:nodeCount/],
    ["quorum above the Sentinel count", { "redis-dr:sentinelQuorum": "4" }, /redis-dr:sentinelQuorum: is 4 but only 3 Sentinels run/],
    ["quorum that is not a majority", { "redis-dr:sentinelQuorum": "1" }, /redis-dr:sentinelQuorum: is 1, not a majority of 3 Sentinels/],
    ["a down-after within Sentinel's ping period", { "redis-dr:sentinelDownAfterMs": "1000" }, /redis-dr:sentinelDownAfterMs: must be at least 2000/],
    ["an isolated master writable after down-after", { "redis-dr:minReplicasMaxLagSeconds": "10" }, /redis-dr:minReplicasMaxLagSeconds: \(10\) exceeds sentinelDownAfterMs \(5000 ms\): .*set it to at most 5/],
    ["down-after not below failover-timeout", { "redis-dr:sentinelDownAfterMs": "18000" }, /redis-dr:sentinelDownAfterMs: \(18000\) must be below sentinelFailoverTimeoutMs \(18000\)/],
    ["an unknown key", { "redis-dr:nodeCont": "3" }, /redis-dr:nodeCont: unknown key; fix: remove it \(pulumi config rm redis-dr:nodeCont\)/],
    ["the latest tag", { "redis-dr:redisImage": "redis:latest" }, /redis-dr:redisImage: "redis:latest" uses the moving "latest" tag/],
    ["an untagged image", { "redis-dr:appImage": "ghcr.io/acme/app" }, /redis-dr:appImage: "ghcr.io\/acme\/app" has no tag/],
    ["a malformed image", { "redis-dr:redisImage": "Redis::7" }, /redis-dr:redisImage: "Redis::7" is not a valid image reference/],
    ["a non-numeric count", { "redis-dr:nodeCount": "three" }, /redis-dr:nodeCount: .*number/i],
    ["a volume below 10Gi", { "redis-dr:volumeSize": "5Gi" }, /redis-dr:volumeSize: must be at least 10Gi/],
    ["a malformed quantity", { "redis-dr:redisMemory": "1GB" }, /redis-dr:redisMemory: must be a Kubernetes quantity/],
    ["an even Redis pod count", { "redis-dr:redisReplicas": "4", "redis-dr:nodeCount": "4" }, /redis-dr:redisReplicas: must be odd/],
    ["fewer nodes than Redis pods", { "redis-dr:redisReplicas": "5" }, /redis-dr:nodeCount: is 3 but redisReplicas is 5/],
    ["half an autoscaler", { "redis-dr:autoscalerMin": "3" }, /redis-dr:autoscalerMax: autoscalerMin and autoscalerMax must be set together/],
    ["autoscaler bounds that exclude the node count", { "redis-dr:autoscalerMin": "4", "redis-dr:autoscalerMax": "6" }, /redis-dr:nodeCount: \(3\) must lie within autoscalerMin..autoscalerMax \(4..6\)/],
    ["a min-replicas that stops writes on one replica loss", { "redis-dr:minReplicasToWrite": "2" }, /redis-dr:minReplicasToWrite: is 2: with 3 pods, losing one replica would stop all writes/],
    ["WAIT for more replicas than exist", { "redis-dr:appWaitReplicas": "3" }, /redis-dr:appWaitReplicas: is 3 but only 2 replicas exist/],
    ["a single app replica", { "redis-dr:appReplicas": "1" }, /redis-dr:appReplicas: must be at least 2/],
    ["a privileged app port", { "redis-dr:appPort": "80" }, /redis-dr:appPort: must be 1024 or above/],
    ["HTTPS on port 80", { "redis-dr:publicTlsSecret": "redis-dr-tls" }, /redis-dr:publicPort: is 80 but publicTlsSecret is set/],
    ["a TLS Secret name that is no object name", { "redis-dr:publicPort": "443", "redis-dr:publicTlsSecret": "My Cert" }, /redis-dr:publicTlsSecret: must be a Kubernetes object name/],
    ["the probe port on the API port", { "redis-dr:appProbePort": "8080" }, /redis-dr:appProbePort: \(8080\) must differ from appPort/],
    ["a bad CIDR", { "redis-dr:publicIngressCidrs": '["everyone"]' }, /redis-dr:publicIngressCidrs: must be an IPv4 or IPv6 CIDR/],
    ["a Redis image with CVE-2025-49844", { "redis-dr:redisImage": "redis:7.4.2-bookworm" }, /redis-dr:redisImage: "redis:7.4.2-bookworm" is affected by CVE-2025-49844 .*fixed in 7\.4\.6/],
    ["a Redis image on an unpatched 7.2", { "redis-dr:redisImage": "redis:7.2.10" }, /CVE-2025-49844.*fixed in 7\.2\.11/],
    ["a Redis image on an untested line", { "redis-dr:redisImage": "redis:6.2.20" }, /Redis 6\.2, a line this project does not support/],
    ["a Redis image whose version cannot be read", { "redis-dr:redisImage": `redis@sha256:${"b".repeat(64)}` }, /carries no Redis version in its tag, so it cannot be checked against CVE-2025-49844/],
    ["an environment that is neither dev nor prod", { "redis-dr:environment": "staging" }, /redis-dr:environment: /],
    ["an empty control-plane ACL", { "redis-dr:controlPlaneAllowedCidrs": "[]" }, /redis-dr:controlPlaneAllowedCidrs: must list at least one CIDR/],
    ["an unknown public entry mode", { "redis-dr:publicEntry": "ccm" }, /redis-dr:publicEntry: /],
    ["a load-balancer wait of more than 30 minutes", { "redis-dr:loadBalancerTimeoutSeconds": "3600" }, /redis-dr:loadBalancerTimeoutSeconds: /],
    ["a redis_exporter that cannot turn /scrape off", { "redis-dr:redisExporterImage": "oliver006/redis_exporter:v1.82.0" }, /redis-dr:redisExporterImage: "oliver006\/redis_exporter:v1.82.0" predates --disable-scrape-endpoint \(v1.83.0\)/],
    ["a redis_exporter pinned by digest alone", { "redis-dr:redisExporterImage": `oliver006/redis_exporter@sha256:${"a".repeat(64)}` }, /redis-dr:redisExporterImage: .* carries no version in its tag/],
    ["a grace period shorter than down-after", { "redis-dr:redisTerminationGraceSeconds": "10", "redis-dr:sentinelDownAfterMs": "15000" }, /redis-dr:redisTerminationGraceSeconds: \(10s\) must exceed sentinelDownAfterMs/],
  ];
  it.each(cases)("rejects %s with a message naming the key and the fix", (_name, overrides, message) => {
    const problems = problemsFor(overrides);
    expect(problems.join("\n")).toMatch(message);
    for (const problem of problems) expect(problem).toMatch(/^redis-dr:[A-Za-z]+: .*(fix|set it|lower it|remove it|must)/);
  });

  it("refuses an open Kubernetes API and a single control plane in prod, and allows them in dev", () => {
    const prod = (overrides: Record<string, string>) => {
      try {
        parseStackConfig({ ...rawStackConfig("prod"), ...overrides });
        return [];
      } catch (error) {
        return (error as StackConfigError).problems;
      }
    };
    expect(prod({}).join("\n")).toBe("");
    expect(prod({ "redis-dr:controlPlaneAllowedCidrs": '["198.51.100.0/24", "::/0"]' }).join("\n")).toMatch(
      /redis-dr:controlPlaneAllowedCidrs: lists ::\/0: a prod Kubernetes API must not be open to the internet/,
    );
    expect(prod({ "redis-dr:haControlPlane": "false" }).join("\n")).toMatch(/redis-dr:haControlPlane: must be true for environment prod/);
    expect(problemsFor({ "redis-dr:publicPort": "80" }, ["redis-dr:publicTlsSecret"], "prod").join("\n")).toMatch(
      /redis-dr:publicTlsSecret: must be set for environment prod: without it the bearer tokens and every value cross the internet in plain HTTP;.*or set allowPlainHttp: true/,
    );
    expect(stackConfigWithout("prod", ["redis-dr:publicTlsSecret"], { "redis-dr:publicPort": "80", "redis-dr:allowPlainHttp": "true" }).allowPlainHttp).toBe(true);
    expect(stackConfig("dev").publicTlsSecret).toBeUndefined();
    expect(stackConfig("dev").controlPlaneAllowedCidrs).toEqual(["0.0.0.0/0", "::/0"]);
  });

  it("pins patched versions in both stacks", () => {
    for (const stack of ["dev", "prod"] as const) {
      const cfg = stackConfig(stack);
      expect(redisImageVulnerability(cfg.redisImage)).toBeUndefined();
      expect(cfg.redisImage).toMatch(/^redis:7\.4\.\d+/);
      expect(Number(cfg.k8sVersion.split(".")[1])).toBeGreaterThanOrEqual(35);
    }
    expect(redisImageVulnerability("redis:7.4.6")).toBeUndefined();
    expect(redisImageVulnerability("redis:8.2.2-alpine")).toBeUndefined();
    expect(redisImageVulnerability("redis:8.4.0")).toBeUndefined();
  });

  it.each(["qa_1", "has.dot", "-lead", "trail-", "a-stack-name-too-long", ""])("rejects the stack name %j before anything is created", (name) => {
    expect(() => validateStackName(name)).toThrow(/must be 1-16 letters, digits and -/);
  });

  it.each(["dev", "prod", "qa-1", "Eu2"])("accepts the stack name %j", (name) => {
    expect(() => validateStackName(name)).not.toThrow();
  });

  it("names a missing required key", () => {
    expect(problemsFor({}, ["redis-dr:region"]).join("\n")).toMatch(/redis-dr:region: is required; fix: pulumi config set redis-dr:region/);
  });

  it("reports every problem at once, in one error", () => {
    const problems = problemsFor({ "redis-dr:nodeCount": "1", "redis-dr:redisImage": "redis", "redis-dr:bogus": "x" });
    expect(problems.map((p) => p.split(":")[1])).toEqual(["bogus", "nodeCount", "redisImage"]);
  });

  it("validates API tokens without printing them", () => {
    const problems = problemsFor({ "redis-dr:apiTokens": "good-token-0123456789abcdef0123456789,short secret" });
    expect(problems.join("\n")).toMatch(/redis-dr:apiTokens: token 2 must be 32-128 characters/);
    expect(problems.join("\n")).not.toContain("short secret");
  });

  it("validates a secret password without printing it", () => {
    const problems = problemsFor({ "redis-dr:redisPassword": "short pass" });
    expect(problems.join("\n")).toMatch(/redis-dr:redisPassword: must be 16-128 characters/);
    // users.acl splits on commas: the admin's password may not hold one; Sentinel's may.
    const comma = "Long-Enough-Password,0123456789";
    expect(problemsFor({ "redis-dr:redisPassword": comma }).join("\n")).toMatch(/redis-dr:redisPassword: .*no comma/);
    expect(problemsFor({ "redis-dr:redisPassword": comma }).join("\n")).not.toContain(comma);
    expect(() => parseStackConfig({ ...rawStackConfig("dev"), "redis-dr:sentinelPassword": comma })).not.toThrow();
    expect(problems.join("\n")).not.toContain("short pass");
  });

  it("parses image references", () => {
    expect(parseImage("redis:7.4.7-bookworm")).toEqual({ tag: "7.4.7-bookworm", digest: false });
    expect(parseImage(`ghcr.io/acme/app@sha256:${"a".repeat(64)}`)).toEqual({ tag: undefined, digest: true });
    expect(parseImage("registry.example:5000/team/app:1.0")?.tag).toBe("1.0");
    expect(parseImage("UPPER/case:1")).toBeUndefined();
  });
});
