import { afterEach } from "vitest";
import { waitForConvergence } from "../../local/measure/sentinelGroupWatch";
import { PodNetworkSite } from "../../local/cluster/sites";
import { ClusterTopology } from "../../local/cluster/topology";
import { waitFor } from "../../probe/wait";
import { AckWriter } from "./ackWriter";
import { suiteTopology } from "./clusterTopology";
import { FAST_FAILOVER_CFG, TEST_CREDENTIALS } from "./fastFailover";

/**
 * How long a suite waits for the Sentinel group to converge: a wait, not a measure (the drills
 * measure). After a restart a replica is promotable only once its sync is done, and a Sentinel
 * sees its priority back at its next INFO, up to 10 s later (sentinel_info_period, sentinel.c);
 * under the whole suite on two cores that took longer than 30 s in two CI runs.
 */
export const CONVERGE_MS = 60_000;
export const hostsOf = (t: ClusterTopology) => t.pods.map((p) => p.host);
export const podAt = (t: ClusterTopology, host: string) => t.pods.find((p) => p.host === host)!;

/**
 * One Redis tier of the rendered pods on the local kubelet per test, on the suite's own pod
 * network, shut down after each test of the suite that calls this.
 */
export function redisTierPerTest(site: PodNetworkSite) {
  let topology: ClusterTopology | undefined;
  afterEach(async () => {
    await topology?.shutdown();
    topology = undefined;
  });

  const fresh = async (): Promise<ClusterTopology> => {
    topology = (await suiteTopology(site)).topology;
    return topology;
  };

  /** A converged tier with writes flowing to its master: the start of every failover test. */
  const convergedWithWrites = async () => {
    const t = await fresh();
    await t.start();
    const first = await waitForConvergence(hostsOf(t), FAST_FAILOVER_CFG.masterName, TEST_CREDENTIALS, CONVERGE_MS);
    const oldMaster = podAt(t, first.masters[0]!);
    const writer = new AckWriter(hostsOf(t), FAST_FAILOVER_CFG.masterName, TEST_CREDENTIALS);
    writer.start();
    await waitFor("writes to flow", async () => writer.acked.length > 20, 5000);
    return { t, oldMaster, writer };
  };

  return { fresh, convergedWithWrites };
}
