import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Files run side by side: each real-process suite has its own loopback /24
    // (test/helpers/suiteNetworks.ts), pod network and ports. The suites spend most of
    // their time waiting on Sentinel timers, not on the CPU, so more files than cores run.
    fileParallelism: true,
    maxWorkers: 4,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
