import * as fs from "fs";
import { rawStackConfig } from "../../config/stackFile";
import { renderProgram } from "./programMocks";

/**
 * Renders the program for a stack under the tests' mocks and writes its resources as JSON to
 * the file named by argv[2]. Reads {stack, overrides, secrets} from stdin, so no secret shows
 * in a process list. Run in a process of its own (local/cluster/render.ts): the program is a
 * module, and a module runs once per process.
 */
async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error("usage: renderMain.ts OUT_FILE < {stack, overrides, secrets}");
  const input = JSON.parse(fs.readFileSync(0, "utf8")) as { stack: string; overrides: Record<string, string>; secrets: Record<string, string> };
  const rendered = await renderProgram({
    stackName: input.stack,
    config: { ...rawStackConfig(input.stack), ...input.overrides, ...input.secrets },
    secretKeys: Object.keys(input.secrets),
    importProgram: async () => (await import("../../index")) as Record<string, unknown>,
  });
  const resources = rendered.resources.filter((r) => r.type.startsWith("kubernetes:")).map(({ type, name, inputs }) => ({ type, name, inputs }));
  fs.writeFileSync(out, JSON.stringify(resources), { mode: 0o600 });
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`render: ${(error as Error).message}`);
    process.exit(1);
  },
);
