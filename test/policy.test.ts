import { beforeAll, describe, expect, it } from "vitest";
import { CCM_ANNOTATIONS } from "../infra/ccmAnnotations";
import { checkConfigMaps, HttpsConfig, imageProblem, RESOURCE_POLICIES, STACK_POLICIES, stackOf } from "../policy/policies";
import { plain } from "./helpers/k8sObjects";
import { MockResource, renderStack, RenderedStack } from "./helpers/pulumiMocks";

// The policy pack (policy/) on the rendered program: every shipped stack passes every policy,
// and each policy reports the violation it exists for on a resource changed to break it.
type Policied = { type: string; name: string; urn: string; props: any; opts: any; getConfig?: () => Partial<HttpsConfig> };

const SECRET_CONFIG = {
  "redis-dr:redisPassword": "Redis-Admin-Password-0123456789",
  "redis-dr:sentinelPassword": "Sentinel-Admin-Password-0123456789",
  "redis-dr:apiTokens": "api-token-for-the-policy-test-0123456789",
};

function asPolicied(stack: string, r: MockResource): Policied {
  return {
    type: r.type,
    name: r.name,
    urn: `urn:pulumi:${stack}::redis-dr::${r.type}::${r.name}`,
    props: plain(r.inputs),
    opts: { protect: r.options.protect === true, ignoreChanges: r.options.ignoreChanges ?? [], aliases: [], additionalSecretOutputs: [] },
  };
}

/** Every violation, as "<policy>: <message>", that the pack reports on RESOURCES. */
async function violations(resources: Policied[]): Promise<string[]> {
  const found: string[] = [];
  for (const policy of RESOURCE_POLICIES) {
    for (const resource of resources) await policy.validateResource(resource as never, (message) => found.push(`${policy.name}: ${message}`));
  }
  for (const policy of STACK_POLICIES) await policy.validateStack({ resources } as never, (message) => found.push(`${policy.name}: ${message}`));
  return found;
}

const rendered: Record<string, RenderedStack> = {};
beforeAll(async () => {
  rendered.dev = await renderStack("dev", {}, SECRET_CONFIG);
  rendered.prod = await renderStack("prod", {}, SECRET_CONFIG);
  rendered.reserved = await renderStack("prod", { "redis-dr:publicEntry": "reserved-ip" }, SECRET_CONFIG);
  // With the replication endpoint: a second LoadBalancer Service, the relay and the TLS Secret.
  rendered.replication = await renderStack("prod", { "redis-dr:replicationEndpoint": JSON.stringify({ allowedCidrs: ["203.0.113.0/28"] }) }, SECRET_CONFIG);
});

const resourcesOf = (name: "dev" | "prod" | "reserved" | "replication") => rendered[name]!.resources.map((r) => asPolicied(name === "dev" ? "dev" : "prod", r));
/** The stack's resources with the first of TYPE (named NAME) changed by CHANGE. */
function breaking(name: "dev" | "prod" | "replication", type: string, change: (r: Policied) => void, resourceName?: string): Policied[] {
  const resources = resourcesOf(name);
  const target = resources.find((r) => r.type === type && (!resourceName || r.name === resourceName));
  if (!target) throw new Error(`no ${type} ${resourceName ?? ""} in ${name}`);
  change(target);
  return resources;
}

describe("the policy pack", () => {
  it.each(["dev", "prod", "reserved", "replication"] as const)("passes the rendered %s stack", async (name) => {
    expect(await violations(resourcesOf(name))).toEqual([]);
  });

  it("refuses unpinned and unpatched images", async () => {
    expect(imageProblem("redis:7.4.7-bookworm")).toBeUndefined();
    expect(imageProblem("docker.io/library/redis:7.4.5")).toMatch(/CVE-2025-49844/);
    expect(imageProblem("redis:latest")).toMatch(/latest/);
    expect(imageProblem("ghcr.io/acme/redis-dr-app")).toMatch(/not pinned/);
    const found = await violations(
      breaking("prod", "kubernetes:apps/v1:StatefulSet", (r) => {
        r.props.spec.template.spec.containers[0].image = "redis:7.4.5";
      }),
    );
    expect(found).toEqual([expect.stringMatching(/^images-pinned-and-patched: container redis: "redis:7.4.5" is affected by CVE-2025-49844/)]);
  });

  it("refuses a namespace that does not enforce the restricted standard", async () => {
    const found = await violations(breaking("dev", "kubernetes:core/v1:Namespace", (r) => (r.props.metadata.labels["pod-security.kubernetes.io/enforce"] = "baseline")));
    expect(found).toEqual(["restricted-pod-security: namespace redis-dr enforces baseline Pod Security Standard, not restricted"]);
  });

  it("refuses Redis pods that may share a node", async () => {
    const preferred = breaking("prod", "kubernetes:apps/v1:StatefulSet", (r) => {
      const anti = r.props.spec.template.spec.affinity.podAntiAffinity;
      anti.preferredDuringSchedulingIgnoredDuringExecution = [{ weight: 100, podAffinityTerm: anti.requiredDuringSchedulingIgnoredDuringExecution[0] }];
      delete anti.requiredDuringSchedulingIgnoredDuringExecution;
    });
    expect(await violations(preferred)).toEqual([expect.stringMatching(/^redis-pods-on-separate-nodes: StatefulSet redis lacks a required pod anti-affinity/)]);
    const otherPods = breaking("prod", "kubernetes:apps/v1:StatefulSet", (r) => {
      r.props.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels = { app: "other" };
    });
    expect(await violations(otherPods)).toHaveLength(1);
  });

  it("refuses a LoadBalancer Service without a firewall", async () => {
    for (const name of ["prod", "reserved"] as const) {
      const resources = resourcesOf(name);
      const service = resources.find((r) => r.type === "kubernetes:core/v1:Service" && r.props.spec.type === "LoadBalancer")!;
      delete service.props.metadata.annotations[CCM_ANNOTATIONS.firewallId];
      delete service.props.metadata.annotations[CCM_ANNOTATIONS.firewallAcl];
      expect(await violations(resources)).toEqual([expect.stringMatching(/^load-balancer-firewalled: Service redis-dr-app would get a NodeBalancer with no firewall/)]);
    }
    const resources = resourcesOf("replication");
    const replication = resources.find((r) => r.type === "kubernetes:core/v1:Service" && r.name === "redis-replication")!;
    delete replication.props.metadata.annotations[CCM_ANNOTATIONS.firewallAcl];
    expect(await violations(resources)).toEqual([expect.stringMatching(/^load-balancer-firewalled: Service redis-replication would get a NodeBalancer with no firewall/)]);
  });

  it("lets a Service pass TLS through only to relays in front of Redis's client-certificate TLS port", async () => {
    const passthrough = /^tls-passthrough-proven: Service redis-replication is marked redis-dr\/tls-passthrough but does not select only redis-dr-relay pods/;
    const withoutClientCertificates = resourcesOf("replication");
    const config = withoutClientCertificates.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "redis-config")!;
    config.props.data["redis.conf"] = config.props.data["redis.conf"].replace("tls-auth-clients yes", "tls-auth-clients no");
    expect(await violations(withoutClientCertificates)).toEqual([expect.stringMatching(passthrough)]);
    const toThePlainPort = breaking("replication", "kubernetes:apps/v1:Deployment", (r) => {
      r.props.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === "RELAY_MASTER_PORT").value = "6379";
    }, "redis-relay");
    expect(await violations(toThePlainPort)).toEqual([expect.stringMatching(passthrough)]);
    const toTheApp = breaking("replication", "kubernetes:core/v1:Service", (r) => {
      r.props.spec.selector = { "app.kubernetes.io/name": "redis-dr-app", "app.kubernetes.io/part-of": "redis-dr" };
    }, "redis-replication");
    expect(await violations(toTheApp)).toEqual([expect.stringMatching(passthrough)]);
  });

  it("refuses unprotected data", async () => {
    for (const type of ["kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:Namespace", "linode:index/lkeCluster:LkeCluster", "linode:index/objectStorageBucket:ObjectStorageBucket"]) {
      const found = await violations(breaking("prod", type, (r) => (r.opts.protect = false)));
      expect(found).toEqual([expect.stringMatching(new RegExp(`^data-protected: ${type.replace(/[./]/g, "\\$&")} \\S+ holds data but is not protected$`))]);
    }
  });

  it("refuses plain HTTP in prod unless the stack is let off, and leaves dev alone", async () => {
    const plainHttp = (r: Policied) => {
      for (const key of Object.keys(r.props.metadata.annotations)) if (key.startsWith(CCM_ANNOTATIONS.portPrefix)) delete r.props.metadata.annotations[key];
    };
    const prod = breaking("prod", "kubernetes:core/v1:Service", plainHttp, "redis-dr-app");
    expect(await violations(prod)).toEqual(["https-in-prod: Service redis-dr-app serves port 443 as tcp in stack prod, not https"]);
    const letOff = prod.map((r) => ({ ...r, getConfig: () => ({ allowPlainHttp: ["prod"] }) }));
    expect(await violations(letOff)).toEqual([]);
    expect(stackOf(prod[0]!.urn)).toBe("prod");
    expect(await violations(breaking("dev", "kubernetes:core/v1:Service", plainHttp, "redis-dr-app"))).toEqual([]);
  });

  it("refuses a ConfigMap that holds a Secret's value or a credential-named key", async () => {
    const resources = resourcesOf("prod");
    const map = resources.find((r) => r.type === "kubernetes:core/v1:ConfigMap")!;
    const found: string[] = [];
    checkConfigMaps(resources, (message) => found.push(message));
    expect(found).toEqual([]);
    map.props.data = { ...map.props.data, "extra.conf": `masterauth ${SECRET_CONFIG["redis-dr:redisPassword"]}\n`, adminPassword: "x" };
    checkConfigMaps(resources, (message) => found.push(message));
    expect(found).toEqual([
      `ConfigMap ${map.name} key extra.conf holds a value that is also in a Secret`,
      `ConfigMap ${map.name} has a key named like a credential: adminPassword`,
    ]);
  });
});
