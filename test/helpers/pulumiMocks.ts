import { MockResource, renderProgram, RenderedStack } from "../../local/cluster/programMocks";
import { vi } from "vitest";
import { rawStackConfig, StackName } from "./stackConfig";

export {
  MOCK_BUCKET_SUFFIX,
  MOCK_FIREWALL_ID,
  MOCK_GENERATED_PASSWORD,
  MOCK_KUBECONFIG,
  MOCK_NODEBALANCER,
  MOCK_OBJECT_KEY,
  MOCK_RESERVED_IPV4,
} from "../../local/cluster/programMocks";
export type { MockResource, RenderedStack } from "../../local/cluster/programMocks";

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
  return renderProgram({
    stackName,
    config: { ...rawStackConfig(stack), ...overrides, ...secretConfig },
    secretKeys: Object.keys(secretConfig),
    importProgram: async () => {
      vi.resetModules();
      return (await import("../../index")) as Record<string, unknown>;
    },
  });
}

export function byType(rendered: RenderedStack, type: string): MockResource[] {
  return rendered.resources.filter((r) => r.type === type);
}

export function one(rendered: RenderedStack, type: string, name?: string): MockResource {
  const found = byType(rendered, type).filter((r) => name === undefined || r.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
  return found[0]!;
}
