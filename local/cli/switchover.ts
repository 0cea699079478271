import { switchover, SWITCHOVER_TARGET, switchoverLine } from "../../ops/switchover";
import { parseCommandLine } from "../../scripts/commandLine";
import * as path from "path";
import { localPods } from "../podRunner";
import { joinRootlessRun } from "../cluster/rootless";

const USAGE = `usage: npm run switchover -- [options]

Moves the master of the npm start topology to another pod with no write lost, by the pods'
own switchover.sh (what npm run ops -- switchover does on a cluster through kubectl exec).

options:
  --stack NAME   stack (Pulumi.NAME.yaml); default dev
  --to POD       ${SWITCHOVER_TARGET.to.help}
  --json         machine-readable output
  -h, --help     this text`;

async function main(): Promise<number> {
  const { values } = parseCommandLine(USAGE, { stack: { type: "string", default: "dev" }, to: { type: "string" }, json: { type: "boolean", default: false } });
  const stack = values.stack!;
  await joinRootlessRun(path.resolve(".local", stack));
  const result = await switchover(localPods(stack), values.to);
  console.log(values.json ? JSON.stringify(result, null, 2) : switchoverLine(result));
  return result.code;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`error: ${(error as Error).message}`);
    process.exit(1);
  },
);
