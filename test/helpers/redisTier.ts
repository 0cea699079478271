import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach } from "vitest";
import { waitForConvergence } from "../../local/measure/sentinelGroupWatch";
import { LoopbackNetwork } from "../../local/process/network";
import { LocalTopology } from "../../local/process/topology";
import { waitFor } from "../../probe/wait";
import { AckWriter } from "./ackWriter";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./fastFailover";

/**
 * How long a suite waits for the Sentinel group to converge: a wait, not a measure (the drills
 * measure). After a restart a replica is promotable only once its sync is done, and a Sentinel
 * sees its priority back at its next INFO, up to 10 s later (sentinel_info_period, sentinel.c);
 * under the whole suite on two cores that took longer than 30 s in two CI runs.
 */
export const CONVERGE_MS = 60_000;
export const hostsOf = (t: LocalTopology) => t.pods.map((p) => p.address);
export const podAt = (t: LocalTopology, address: string) => t.pods.find((p) => p.address === address)!;

/**
 * One Redis tier of real redis-server and redis-sentinel processes per test, on its own
 * loopback /24, stopped after each test of the suite that calls this.
 */
export function redisTierPerTest(loopback: string) {
  let topology: LocalTopology | undefined;
  afterEach(async () => {
    await topology?.stopAll();
    topology = undefined;
  });

  const fresh = (config = FAST_FAILOVER_CFG): LocalTopology => {
    const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-test-"));
    topology = new LocalTopology({ cfg: config, baseDir, network: new LoopbackNetwork(config.redisReplicas, loopback), ...TEST_CREDENTIALS });
    return topology;
  };

  /** A converged tier with writes flowing to its master: the start of every failover test. */
  const convergedWithWrites = async () => {
    const t = fresh();
    t.startAll();
    const first = await waitForConvergence(hostsOf(t), FAST_FAILOVER_CFG.masterName, TEST_CREDENTIALS, CONVERGE_MS);
    const oldMaster = podAt(t, first.masters[0]!);
    const writer = new AckWriter(hostsOf(t), FAST_FAILOVER_CFG.masterName, TEST_CREDENTIALS);
    writer.start();
    await waitFor("writes to flow", async () => writer.acked.length > 20, 5000);
    return { t, oldMaster, writer };
  };

  return { fresh, convergedWithWrites };
}
