import * as pulumi from "@pulumi/pulumi";
import { tlsOutputs } from "./tlsMocks";

/**
 * The Pulumi mocks under which the real program (index.ts) renders without the CLI or any
 * provider plugin: the unit tests use them, and so does the local topology, which takes its
 * pods from what the program renders (local/cluster/renderMain.ts).
 */
export interface MockResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** The resource options the program passed (ignoreChanges, customTimeouts, protect, ...). */
  options: pulumi.CustomResourceOptions;
}

export interface RenderedStack {
  resources: MockResource[];
  outputs: Record<string, unknown>;
  secretOutputs: Set<string>;
  module: Record<string, unknown>;
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

function mockState(type: string, inputs: Record<string, any>): Record<string, any> {
  const tls = tlsOutputs(type, plain(inputs));
  if (tls) return { ...inputs, ...tls };
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

export interface RenderOptions {
  /** The stack's name as `pulumi stack init` gave it. */
  stackName: string;
  /** `ns:key -> string`, as Pulumi hands config to the program. */
  config: Record<string, string>;
  /** Which of the config keys are secrets. */
  secretKeys: string[];
  /** Loads (and so runs) index.ts; a caller that renders more than once resets its module cache here. */
  importProgram: () => Promise<Record<string, unknown>>;
}

/**
 * Run the real index.ts under Pulumi mocks, returning every registered resource and the
 * resolved stack outputs.
 */
export async function renderProgram(opts: RenderOptions): Promise<RenderedStack> {
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
    opts.stackName,
    false,
  );
  pulumi.runtime.setAllConfig(opts.config, opts.secretKeys);
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
      module = await opts.importProgram();
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

/** Pulumi's wire marker for a secret value: {[SECRET_SIG]: SECRET_MARK, value}. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_MARK = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretWrapper(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG] === SECRET_MARK;
}

/** The plain object a resource's inputs describe, with secret wrappers removed. */
export function plain(value: unknown): any {
  if (isSecretWrapper(value)) return plain(value.value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}
