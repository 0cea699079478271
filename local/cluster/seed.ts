import * as path from "path";
import { SeedChoice, seedVariables } from "../../k8s/redis/podEnvironment";
import { LOCAL_TOOL_VARIABLES } from "../backup/job";
import { ObjectStoreAccess, objectStoreEnvironment } from "../backup/objectStore";
import { ScriptResult } from "../scriptProcess";
import { KubeletPod } from "./kubelet";

/**
 * The restore init container's work, run in a Redis pod before its containers start:
 * `backup.sh seed` with the redis container's environment and the store's. Only the first pod
 * of an empty deployment loads the backup; the others find they are not it and skip.
 */
export async function seedBeforeStart(
  pod: KubeletPod,
  seed: SeedChoice & { store: ObjectStoreAccess; scratchDir: string; env?: Record<string, string> },
  onOutput?: (chunk: string) => void,
): Promise<ScriptResult> {
  const result = await pod.script(
    "redis",
    "backup.sh",
    ["seed"],
    0,
    { ...objectStoreEnvironment(seed.store), ...seedVariables(seed), ...LOCAL_TOOL_VARIABLES, SCRATCH_DIR: path.join(seed.scratchDir, pod.name), ...seed.env },
    onOutput,
  );
  if (result.code !== 0) throw new Error(`seeding ${pod.name} from backup "${seed.backup}" ${seed.at ? ` at ${seed.at}` : ""} failed (exit ${result.code}): ${result.output.trim().split("\n").at(-1) ?? ""}`);
  return result;
}
