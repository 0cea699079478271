import { ChildProcess, spawn } from "child_process";
import { waitFor } from "../../probe/wait";

/**
 * A real Prometheus Pushgateway (Debian's) on ADDRESS, holding only what this test pushes:
 * Debian's build persists to /var/lib/prometheus/pushgateway.data unless told not to, which
 * would hand one run the metrics of the last.
 */
export async function startPushgateway(address: string): Promise<ChildProcess> {
  const answers = () => fetch(`http://${address}/-/ready`).then((r) => r.ok).catch(() => false);
  if (await answers()) throw new Error(`something already answers on ${address} (a Pushgateway an earlier run left?)`);
  const child = spawn("prometheus-pushgateway", [`--web.listen-address=${address}`, "--persistence.file="], { stdio: "ignore" });
  await waitFor("the Pushgateway", answers, 10_000);
  return child;
}
