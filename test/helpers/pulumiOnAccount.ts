/**
 * `pulumi up` and `pulumi preview` for the program's Linode resources, against a
 * FakeLinodeAccount: creates what the rendered program declares (with the mocks' ids, so the
 * Service annotations resolve), then reports which declared properties the account no longer
 * matches, less those the resource's ignoreChanges hands to someone else. An empty drift list
 * is what a second `pulumi preview` showing no change means.
 */
import { plain } from "./k8sObjects";
import { FakeLinodeAccount } from "./fakeLinodeAccount";
import { MOCK_FIREWALL_ID, MOCK_NODEBALANCER, MOCK_RESERVED_IPV4, MockResource, RenderedStack } from "./pulumiMocks";

const TYPES = {
  firewall: "linode:index/firewall:Firewall",
  nodeBalancer: "linode:index/nodeBalancer:NodeBalancer",
  reservedIp: "linode:index/networkingIp:NetworkingIp",
};

const sorted = (values: readonly unknown[]) => [...values].map(String).sort();

export function pulumiUp(account: FakeLinodeAccount, rendered: RenderedStack): void {
  const declared = linodeResources(rendered).map((r) => ({ type: r.type, inputs: plain(r.inputs) }));
  // Dependency order: firewalls and addresses, then NodeBalancers (which may name a firewall),
  // then firewall device lists (which name NodeBalancers).
  for (const { type, inputs } of declared) {
    if (type === TYPES.firewall) {
      account.createFirewall(
        "pulumi",
        {
          label: inputs.label,
          tags: inputs.tags ?? [],
          inboundPolicy: inputs.inboundPolicy,
          outboundPolicy: inputs.outboundPolicy,
          inbound: (inputs.inbounds ?? []).map((r: any) => ({ label: r.label, action: r.action, protocol: r.protocol, ports: r.ports, ipv4: r.ipv4s ?? [], ipv6: r.ipv6s ?? [] })),
        },
        Number(MOCK_FIREWALL_ID),
      );
    } else if (type === TYPES.reservedIp) {
      account.reserveIpv4(inputs.region, MOCK_RESERVED_IPV4);
    }
  }
  for (const { type, inputs } of declared) {
    if (type !== TYPES.nodeBalancer) continue;
    const nb = account.createNodeBalancer(
      "pulumi",
      {
        label: inputs.label,
        region: inputs.region,
        tags: inputs.tags ?? [],
        clientConnThrottle: inputs.clientConnThrottle ?? 0,
        ...(inputs.firewallId !== undefined ? { firewallId: Number(inputs.firewallId) } : {}),
      },
      Number(MOCK_NODEBALANCER.id),
    );
    // The address the mocks gave the program's outputs.
    Object.assign(nb, { ipv4: MOCK_NODEBALANCER.ipv4, hostname: MOCK_NODEBALANCER.hostname });
  }
  for (const { type, inputs } of declared) {
    if (type === TYPES.firewall) for (const nb of inputs.nodebalancers ?? []) account.attach("pulumi", Number(MOCK_FIREWALL_ID), Number(nb));
  }
}

/** Resources in the order Pulumi creates them: firewalls before the NodeBalancer that names one. */
export function linodeResources(rendered: RenderedStack): MockResource[] {
  return rendered.resources.filter((r) => Object.values(TYPES).includes(r.type));
}

export interface Drift {
  resource: string;
  property: string;
  declared: unknown;
  actual: unknown;
}

/** Properties a refresh would show changed and a preview would try to put back. */
export function pulumiDrift(account: FakeLinodeAccount, rendered: RenderedStack): Drift[] {
  const drift: Drift[] = [];
  const compare = (resource: MockResource, property: string, declared: unknown, actual: unknown) => {
    const ignored = (resource.options.ignoreChanges ?? []).includes(property);
    if (!ignored && JSON.stringify(declared) !== JSON.stringify(actual)) drift.push({ resource: `${resource.type}::${resource.name}`, property, declared, actual });
  };
  for (const resource of linodeResources(rendered)) {
    const inputs = plain(resource.inputs);
    if (resource.type === TYPES.firewall) {
      const fw = account.firewalls.get(Number(MOCK_FIREWALL_ID));
      if (!fw) {
        drift.push({ resource: `${resource.type}::${resource.name}`, property: "(exists)", declared: true, actual: false });
        continue;
      }
      compare(resource, "label", inputs.label, fw.label);
      compare(resource, "tags", sorted(inputs.tags ?? []), sorted(fw.tags));
      compare(resource, "inboundPolicy", inputs.inboundPolicy, fw.inboundPolicy);
      compare(resource, "inbounds", (inputs.inbounds ?? []).map((r: any) => [r.ports, sorted(r.ipv4s ?? []), sorted(r.ipv6s ?? [])]), fw.inbound.map((r) => [r.ports, sorted(r.ipv4), sorted(r.ipv6)]));
      compare(resource, "nodebalancers", sorted(inputs.nodebalancers ?? []), sorted(fw.devices.filter((d) => d.type === "nodebalancer").map((d) => d.entityId)));
    } else if (resource.type === TYPES.nodeBalancer) {
      const nb = account.nodeBalancers.get(Number(MOCK_NODEBALANCER.id));
      if (!nb) {
        drift.push({ resource: `${resource.type}::${resource.name}`, property: "(exists)", declared: true, actual: false });
        continue;
      }
      compare(resource, "label", inputs.label, nb.label);
      compare(resource, "region", inputs.region, nb.region);
      compare(resource, "tags", sorted(inputs.tags ?? []), sorted(nb.tags));
      compare(resource, "clientConnThrottle", inputs.clientConnThrottle ?? 0, nb.clientConnThrottle);
    }
  }
  return drift;
}
