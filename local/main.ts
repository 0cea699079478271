import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { clusterView, isConverged, waitFor } from "./inspect";
import { LocalTopology } from "./topology";
import { stackFileConfig } from "../config/stackFile";
import { localCredentials } from "./stack";

/**
 * `npm start`: the production Redis tier on this machine, from a stack's config
 * (dev by default), running the StatefulSet's own scripts. Ctrl-C stops everything.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string", default: "dev" },
      dir: { type: "string", default: path.resolve(".local") },
      fresh: { type: "boolean", default: false },
    },
  });
  const stack = values.stack!;
  const cfg = stackFileConfig(stack);
  const baseDir = path.join(values.dir!, stack);
  if (values.fresh) fs.rmSync(baseDir, { recursive: true, force: true });
  fs.mkdirSync(baseDir, { recursive: true });
  const creds = localCredentials(baseDir);
  const topology = new LocalTopology({ cfg, baseDir, ...creds });
  const hosts = topology.pods.map((p) => p.address);

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping: SIGTERM to every redis and sentinel...");
    await topology.stopAll();
    console.log("stopped; nothing left running. Data stays in", baseDir, "(--fresh to start empty)");
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  console.log(`redis-dr local topology, stack "${stack}" (down-after ${cfg.sentinelDownAfterMs} ms, quorum ${cfg.sentinelQuorum})`);
  console.log(`state and logs: ${baseDir}`);
  topology.startAll();
  const started = Date.now();
  await waitFor(
    "the topology to converge",
    async () => {
      const view = await clusterView(hosts, cfg.masterName, creds);
      const summary = hosts.map((h) => `${h}=${view.roles[h]?.role ?? "?"}`).join(" ");
      process.stdout.write(`\r  ${((Date.now() - started) / 1000).toFixed(1)}s ${summary}   `);
      return isConverged(view) ? view : undefined;
    },
    120_000,
    500,
  );
  const view = await clusterView(hosts, cfg.masterName, creds);
  console.log("\n\nconverged:");
  for (const pod of topology.pods) {
    const role = view.roles[pod.address]?.role === "master" ? "master " : "replica";
    console.log(`  ${pod.name}  ${role}  redis ${pod.address}:6379  sentinel ${pod.address}:26379  logs ${pod.dir}`);
  }
  console.log(`\nask a Sentinel: REDISCLI_AUTH=$(cat ${path.join(baseDir, "sentinel-password")}) redis-cli -h ${hosts[1]} -p 26379 SENTINEL get-master-addr-by-name ${cfg.masterName}`);
  console.log("Ctrl-C stops everything.");
}

main().catch((error) => {
  console.error(`\nerror: ${(error as Error).message}`);
  process.exit(1);
});
