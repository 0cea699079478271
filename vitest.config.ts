import * as path from "path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, TestSpecification } from "vitest/node";
import { LONGEST_FIRST } from "./test/helpers/suiteOrder";

/** The longest suites first (test/helpers/suiteOrder.ts), then vitest's own order. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const at = LONGEST_FIRST.indexOf(path.basename(file.moduleId));
      return at === -1 ? LONGEST_FIRST.length : at;
    };
    const rest = await super.sort(files.filter((file) => rank(file) === LONGEST_FIRST.length));
    return [...files.filter((file) => rank(file) < LONGEST_FIRST.length).sort((a, b) => rank(a) - rank(b)), ...rest];
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Files run side by side: each real-process suite has its own loopback /24
    // (test/helpers/suiteNetworks.ts), pod network and ports. The suites spend most of
    // their time waiting on Sentinel timers, not on the CPU (four files at once kept two
    // cores about half busy), so more files than cores run.
    fileParallelism: true,
    maxWorkers: 6,
    sequence: { sequencer: LongestFirst },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
