import { describe, expect, it } from "vitest";
import { CCM_ANNOTATIONS } from "../infra/ccmAnnotations";
import { diagnoseLoadBalancer, EventView } from "../k8s/loadBalancerDiagnosis";
import { CcmEmulator, ServiceObject, TOO_MANY_FIREWALLS } from "./helpers/ccmEmulator";
import { AccountOptions, FakeLinodeAccount } from "./helpers/fakeLinodeAccount";
import { plain } from "./helpers/k8sObjects";
import { MOCK_FIREWALL_ID, MOCK_NODEBALANCER, MOCK_RESERVED_IPV4, one, RenderedStack, renderStack } from "./helpers/pulumiMocks";
import { pulumiDrift, pulumiUp } from "./helpers/pulumiOnAccount";

// The program's Linode objects meet an emulation of Linode's Cloud Controller Manager
// (test/helpers/ccmEmulator.ts cites the CCM source it follows), driven by the Service the
// real program renders under mocks.

const NODES = [
  { name: "lke1-1-a", privateIp: "192.168.140.10" },
  { name: "lke1-1-b", privateIp: "192.168.140.11" },
  { name: "lke1-1-c", privateIp: "192.168.140.12" },
];
const CLUSTER_NAME = "lke123456";
const NB_ID = Number(MOCK_NODEBALANCER.id);
const FW_ID = Number(MOCK_FIREWALL_ID);

function appService(rendered: RenderedStack): ServiceObject {
  return structuredClone(plain(one(rendered, "kubernetes:core/v1:Service", "redis-dr-app").inputs)) as ServiceObject;
}

/** The same stack as the previous design rendered it: firewall attached through its device list, no firewall-id. */
function previousDesign(rendered: RenderedStack): { rendered: RenderedStack; service: ServiceObject } {
  const resources = rendered.resources.map((r) => {
    const inputs = structuredClone(plain(r.inputs));
    if (r.type === "linode:index/nodeBalancer:NodeBalancer") delete inputs.firewallId;
    if (r.type === "linode:index/firewall:Firewall") inputs.nodebalancers = [NB_ID];
    return { ...r, inputs, options: {} };
  });
  const service = appService(rendered);
  delete service.metadata.annotations![CCM_ANNOTATIONS.firewallId];
  return { rendered: { ...rendered, resources }, service };
}

/** `pulumi up` of the rendered stack on a fresh account, and the CCM of the cluster it created. */
function deploy(rendered: RenderedStack, options: AccountOptions = {}) {
  const account = new FakeLinodeAccount(options);
  pulumiUp(account, rendered);
  return { account, ccm: new CcmEmulator(account, CLUSTER_NAME, NODES) };
}

const firewallsOn = (account: FakeLinodeAccount, nb: number) => account.nodeBalancerFirewalls("pulumi", nb).map((f) => f.id);

describe("publicEntry pulumi: Pulumi's NodeBalancer and firewall under the CCM", () => {
  it("keeps our firewall attached and existing through repeated syncs, and Pulumi sees no drift", async () => {
    const rendered = await renderStack("prod");
    const { account, ccm } = deploy(rendered);
    const service = appService(rendered);
    for (let sync = 0; sync < 3; sync++) expect(ccm.ensure(service).ingress[0]!.ip).toBe(account.nodeBalancers.get(NB_ID)!.ipv4);

    expect(firewallsOn(account, NB_ID)).toEqual([FW_ID]);
    expect(account.firewalls.get(FW_ID)!.createdBy).toBe("pulumi");
    expect(pulumiDrift(account, rendered)).toEqual([]);
    // The CCM did rewrite the tags: without ignoreChanges Pulumi would put them back on every up.
    expect(account.nodeBalancers.get(NB_ID)!.tags).toEqual([CLUSTER_NAME, "redis-dr", "redis-dr-prod", "env-prod"]);
  });

  it("configures the NodeBalancer's port with the /readyz check and timings the Service declares", async () => {
    const rendered = await renderStack("dev");
    const { account, ccm } = deploy(rendered);
    const service = appService(rendered);
    service.spec.ports[0]!.nodePort = 31080;
    ccm.ensure(service);
    expect(account.nodeBalancers.get(NB_ID)!.configs).toEqual([
      expect.objectContaining({
        port: 80,
        protocol: "tcp",
        check: "http",
        checkPath: "/readyz",
        checkInterval: 5,
        checkTimeout: 3,
        checkAttempts: 2,
        checkPassive: true,
        nodes: NODES.map((n) => `${n.privateIp}:31080`),
      }),
    ]);
  });

  it("terminates HTTPS on the public port with the configured TLS Secret, the check and firewall unchanged", async () => {
    const rendered = await renderStack("prod", { "redis-dr:publicPort": "443", "redis-dr:publicTlsSecret": "redis-dr-tls" });
    const { account, ccm } = deploy(rendered);
    ccm.ensure(appService(rendered));
    expect(account.nodeBalancers.get(NB_ID)!.configs).toEqual([
      expect.objectContaining({ port: 443, protocol: "https", tlsSecretName: "redis-dr-tls", check: "http", checkPath: "/readyz" }),
    ]);
    expect(rendered.outputs.publicUrl).toBe(`https://${MOCK_NODEBALANCER.ipv4}/`);
    expect(pulumiDrift(account, rendered)).toEqual([]);
  });

  it("leaves the NodeBalancer and the firewall in place when the Service is deleted", async () => {
    const rendered = await renderStack("dev");
    const { account, ccm } = deploy(rendered);
    const service = appService(rendered);
    ccm.ensure(service);
    ccm.delete(service);
    expect(account.nodeBalancers.has(NB_ID)).toBe(true);
    expect(firewallsOn(account, NB_ID)).toEqual([FW_ID]);
    expect(pulumiDrift(account, rendered)).toEqual([]);
  });

  it("never gets two firewalls when the account attaches a default to new NodeBalancers", async () => {
    const rendered = await renderStack("prod");
    const { account, ccm } = deploy(rendered, { defaultNodeBalancerFirewall: true });
    expect(firewallsOn(account, NB_ID)).toEqual([FW_ID]);
    expect(() => ccm.ensure(appService(rendered))).not.toThrow();
  });

  it("shows what the previous design lost: no firewall-id annotation means the CCM deletes our firewall", async () => {
    const { rendered, service } = previousDesign(await renderStack("prod"));
    const { account, ccm } = deploy(rendered);
    expect(firewallsOn(account, NB_ID)).toEqual([FW_ID]);
    ccm.ensure(service);
    expect(firewallsOn(account, NB_ID)).toEqual([]);
    expect(account.firewalls.has(FW_ID)).toBe(false);
    expect(pulumiDrift(account, rendered).map((d) => d.property)).toContain("(exists)");
  });

  it("shows what the previous design hit with an account default firewall: two attached, the CCM errors out", async () => {
    const { rendered, service } = previousDesign(await renderStack("prod"));
    const { account, ccm } = deploy(rendered, { defaultNodeBalancerFirewall: true });
    expect(firewallsOn(account, NB_ID)).toHaveLength(2);
    expect(() => ccm.ensure(service)).toThrow(TOO_MANY_FIREWALLS);
  });
});

describe("a CCM whose token reaches only what it created (CCM #359, #392)", () => {
  it("leaves the pulumi-mode Service pending with a 403, as the reports describe", async () => {
    const rendered = await renderStack("prod");
    const { ccm } = deploy(rendered, { restricted: ["ccm"] });
    const service = appService(rendered);
    expect(() => ccm.ensure(service)).toThrow("[403] Unauthorized");
    expect(service.status?.loadBalancer?.ingress).toBeUndefined();
  });
});

describe.each([
  ["an unrestricted token", { restricted: [] }],
  ["a restricted token", { restricted: ["ccm" as const] }],
])("publicEntry reserved-ip with %s", (_name, options) => {
  const reservedIp = async () => {
    const rendered = await renderStack("prod", { "redis-dr:publicEntry": "reserved-ip" });
    return { rendered, ...deploy(rendered, options) };
  };
  const ccmFirewallOf = (account: FakeLinodeAccount, nb: number) => {
    const attached = account.nodeBalancerFirewalls("ccm", nb);
    expect(attached).toHaveLength(1);
    return attached[0]!;
  };

  it("gets a NodeBalancer on the reserved address with a firewall admitting only publicIngressCidrs on the public port", async () => {
    const { rendered, account, ccm } = await reservedIp();
    const service = appService(rendered);
    expect(ccm.ensure(service).ingress[0]!.ip).toBe(MOCK_RESERVED_IPV4);
    ccm.ensure(service);
    const nb = [...account.nodeBalancers.values()].find((n) => n.ipv4 === MOCK_RESERVED_IPV4)!;
    expect(nb.createdBy).toBe("ccm");
    const fw = ccmFirewallOf(account, nb.id);
    expect(fw).toMatchObject({ createdBy: "ccm", inboundPolicy: "DROP" });
    expect(fw.inbound.map((r) => [r.action, r.ports, r.ipv4, r.ipv6])).toEqual([["ACCEPT", "443", ["0.0.0.0/0"], ["::/0"]]]);
    expect(pulumiDrift(account, rendered)).toEqual([]);
  });

  it("keeps the address and the firewall rules when the Service is deleted and created again", async () => {
    const { rendered, account, ccm } = await reservedIp();
    const first = appService(rendered);
    ccm.ensure(first);
    const firstNb = [...account.nodeBalancers.values()].find((n) => n.ipv4 === MOCK_RESERVED_IPV4)!;
    const rulesBefore = ccmFirewallOf(account, firstNb.id).inbound;
    ccm.delete(first);
    expect(account.nodeBalancers.has(firstNb.id)).toBe(false);
    expect(account.reservedIps.get(MOCK_RESERVED_IPV4)).toEqual({ region: "us-ord" });
    // The CCM's own firewall went with its NodeBalancer; nothing is left attached to nothing.
    expect([...account.firewalls.values()].filter((f) => f.createdBy === "ccm")).toEqual([]);

    const second = appService(rendered);
    expect(ccm.ensure(second).ingress[0]!.ip).toBe(MOCK_RESERVED_IPV4);
    const secondNb = [...account.nodeBalancers.values()].find((n) => n.ipv4 === MOCK_RESERVED_IPV4)!;
    expect(secondNb.id).not.toBe(firstNb.id);
    expect(ccmFirewallOf(account, secondNb.id).inbound).toEqual(rulesBefore);
  });
});

describe("ops status reads the CCM's failure off the Service's events", () => {
  /** What the service controller records when EnsureLoadBalancer fails (k8s.io/cloud-provider, service controller). */
  const syncFailed = (error: unknown): EventView => ({
    type: "Warning",
    reason: "SyncLoadBalancerFailed",
    message: `Error syncing load balancer: failed to ensure load balancer: ${(error as Error).message}`,
    count: 4,
    lastTimestamp: "2026-11-25T10:00:00Z",
  });

  it("names the 403 of a restricted CCM and the switch to reserved-ip", async () => {
    const rendered = await renderStack("prod");
    const { ccm } = deploy(rendered, { restricted: ["ccm"] });
    const service = appService(rendered);
    let failure: unknown;
    try {
      ccm.ensure(service);
    } catch (error) {
      failure = error;
    }
    const diagnosis = diagnoseLoadBalancer(service, [syncFailed(failure)], "pulumi");
    expect(diagnosis.state).toBe("pending");
    expect(diagnosis.message).toMatch(/403 Unauthorized.*#359, #392.*pulumi config set redis-dr:publicEntry reserved-ip/);
    expect(diagnosis.events).toEqual(["SyncLoadBalancerFailed: Error syncing load balancer: failed to ensure load balancer: [403] Unauthorized (x4)"]);
  });

  it("names two attached firewalls, and reports the address once there is one", async () => {
    const { rendered, service } = previousDesign(await renderStack("prod"));
    const { ccm } = deploy(rendered, { defaultNodeBalancerFirewall: true });
    let failure: unknown;
    try {
      ccm.ensure(service);
    } catch (error) {
      failure = error;
    }
    expect(diagnoseLoadBalancer(service, [syncFailed(failure)], "pulumi").message).toMatch(/two Cloud Firewalls are attached/);

    const dev = await renderStack("dev");
    const healthy = appService(dev);
    deploy(dev).ccm.ensure(healthy);
    expect(diagnoseLoadBalancer(healthy, [], "pulumi")).toMatchObject({ state: "ready", address: MOCK_NODEBALANCER.ipv4 });
    expect(diagnoseLoadBalancer({}, [], "reserved-ip")).toMatchObject({ state: "pending", message: expect.stringContaining("no failure recorded") });
  });
});

describe.each([
  ["an unrestricted token", { restricted: [] }],
  ["a restricted token", { restricted: ["ccm" as const] }],
])("the replication endpoint with %s", (_name, options) => {
  it("gets a TCP NodeBalancer on its reserved address, admitting only the standby's ranges on its port, beside the app's", async () => {
    const rendered = await renderStack("prod", { "redis-dr:replicationEndpoint": JSON.stringify({ allowedCidrs: ["203.0.113.0/28", "2001:db8::/64"] }) });
    const { account, ccm } = deploy(rendered, options);
    const replication = structuredClone(plain(one(rendered, "kubernetes:core/v1:Service", "redis-replication").inputs)) as ServiceObject;
    replication.spec.ports[0]!.nodePort = 31380;
    expect(ccm.ensure(replication).ingress[0]!.ip).toBe(MOCK_RESERVED_IPV4);
    const nb = [...account.nodeBalancers.values()].find((n) => n.ipv4 === MOCK_RESERVED_IPV4)!;
    expect(nb.createdBy).toBe("ccm");
    expect(nb.configs).toEqual([expect.objectContaining({ port: 6380, protocol: "tcp", check: "connection", nodes: NODES.map((n) => `${n.privateIp}:31380`) })]);
    const firewalls = account.nodeBalancerFirewalls("ccm", nb.id);
    expect(firewalls).toHaveLength(1);
    expect(firewalls[0]!.inbound.map((r) => [r.action, r.ports, r.ipv4, r.ipv6])).toEqual([["ACCEPT", "6380", ["203.0.113.0/28"], ["2001:db8::/64"]]]);
    expect(pulumiDrift(account, rendered)).toEqual([]);
  });
});
