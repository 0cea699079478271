import * as pulumi from "@pulumi/pulumi";
import { vi } from "vitest";
import { rawStackConfig, StackName } from "./stackConfig";

export interface MockResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** The resource options the program passed (ignoreChanges, customTimeouts, protect, ...). */
  options: pulumi.CustomResourceOptions;
}

export const MOCK_NODEBALANCER = { id: "424242", ipv4: "192.0.2.10", hostname: "192-0-2-10.ip.linodeusercontent.com" };
export const MOCK_FIREWALL_ID = "515151";
export const MOCK_RESERVED_IPV4 = "192.0.2.77";
/** Linode ids are numbers; the program converts some with Number(), so the mocks must be numeric too. */
const MOCK_IDS: Record<string, string> = {
  "linode:index/nodeBalancer:NodeBalancer": MOCK_NODEBALANCER.id,
  "linode:index/firewall:Firewall": MOCK_FIREWALL_ID,
  "linode:index/networkingIp:NetworkingIp": MOCK_RESERVED_IPV4,
};
export const MOCK_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n";
export const MOCK_GENERATED_PASSWORD = "GeneratedByRandomProvider0123456789abcd";
export const MOCK_OBJECT_KEY = { accessKey: "MOCKACCESSKEY0123", secretKey: "MockSecretKeyValue0123456789" };
export const MOCK_BUCKET_SUFFIX = "a1b2c3";

export interface RenderedStack {
  resources: MockResource[];
  outputs: Record<string, unknown>;
  secretOutputs: Set<string>;
  module: Record<string, unknown>;
}

function mockState(type: string, inputs: Record<string, any>): Record<string, any> {
  switch (type) {
    case "linode:index/lkeCluster:LkeCluster":
      return { ...inputs, kubeconfig: Buffer.from(MOCK_KUBECONFIG).toString("base64"), apiEndpoints: ["https://lke.example:443"] };
    case "linode:index/nodeBalancer:NodeBalancer":
      return { ...inputs, ipv4: MOCK_NODEBALANCER.ipv4, hostname: MOCK_NODEBALANCER.hostname };
    case "linode:index/networkingIp:NetworkingIp":
      return { ...inputs, address: MOCK_RESERVED_IPV4 };
    case "linode:index/objectStorageBucket:ObjectStorageBucket":
      return { ...inputs, s3Endpoint: `${inputs.region}-1.linodeobjects.com` };
    case "linode:index/objectStorageKey:ObjectStorageKey":
      return { ...inputs, ...MOCK_OBJECT_KEY };
    case "random:index/randomId:RandomId":
      return { ...inputs, hex: MOCK_BUCKET_SUFFIX };
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: MOCK_GENERATED_PASSWORD };
    default:
      return inputs;
  }
}

async function resolve(output: unknown): Promise<{ value: unknown; secret: boolean }> {
  if (!pulumi.Output.isInstance(output)) return { value: output, secret: false };
  const secret = await pulumi.isSecret(output as pulumi.Output<unknown>);
  const value = await new Promise((done) => (output as pulumi.Output<unknown>).apply((v) => done(v)));
  return { value, secret };
}

/**
 * Run the real index.ts under Pulumi mocks with a stack's config file (plus overrides),
 * returning every registered resource and the resolved stack outputs.
 */
export async function renderStack(
  stack: StackName,
  overrides: Record<string, string> = {},
  secretConfig: Record<string, string> = {},
  /** The stack's name as `pulumi stack init` gave it (the config still comes from `stack`'s file). */
  stackName: string = stack,
): Promise<RenderedStack> {
  const resources: MockResource[] = [];
  const options = new Map<string, pulumi.CustomResourceOptions>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, options: options.get(`${args.type}::${args.name}`) ?? {} });
        const id = MOCK_IDS[args.type] ?? `${args.name}-id`;
        return { id, state: mockState(args.type, args.inputs) };
      },
      call(args) {
        return args.inputs;
      },
    },
    "redis-dr",
    stackName,
    false,
  );
  const config = { ...rawStackConfig(stack), ...overrides, ...secretConfig };
  pulumi.runtime.setAllConfig(config, Object.keys(secretConfig));
  vi.resetModules();
  // Run the program under a root Stack, as `pulumi up` does, so a stack transformation can
  // record the options each resource was given (mocks see only inputs).
  let module: Record<string, unknown> = {};
  let programError: unknown;
  const root = new pulumi.runtime.Stack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      options.set(`${args.type}::${args.name}`, args.opts as pulumi.CustomResourceOptions);
      return undefined;
    });
    try {
      module = (await import("../../index")) as Record<string, unknown>;
    } catch (error) {
      programError = error;
    }
    return {};
  });
  await new Promise((done) => root.outputs.apply(done));
  if (programError !== undefined) throw programError;
  const outputs: Record<string, unknown> = {};
  const secretOutputs = new Set<string>();
  for (const [name, value] of Object.entries(module)) {
    const resolved = await resolve(value);
    outputs[name] = resolved.value;
    if (resolved.secret) secretOutputs.add(name);
  }
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  return { resources: resources.filter((r) => r.type !== "pulumi:pulumi:Stack"), outputs, secretOutputs, module };
}

export function byType(rendered: RenderedStack, type: string): MockResource[] {
  return rendered.resources.filter((r) => r.type === type);
}

export function one(rendered: RenderedStack, type: string, name?: string): MockResource {
  const found = byType(rendered, type).filter((r) => name === undefined || r.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
  return found[0]!;
}
