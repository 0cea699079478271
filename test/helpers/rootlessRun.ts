import * as fs from "fs";
import * as http from "http";
import { spawnSync } from "child_process";
import { LocalLoadBalancer } from "../../local/cluster/loadBalancer";
import { isRootless, rerunRootlessUnlessRoot } from "../../local/cluster/rootless";

/**
 * What test/rootless.test.ts runs as an unprivileged user: re-run rootless with a listener on
 * 127.0.0.1:PORT, then, inside, build a pod network namespace and serve one request through
 * the LoadBalancer stand-in on that listener, answering with where it ran; exits 7.
 */
async function main(): Promise<void> {
  const port = Number(process.argv[2]);
  await rerunRootlessUnlessRoot([{ host: "127.0.0.1", port }]);
  const netns = spawnSync("ip", ["netns", "add", "rootless-probe"], { encoding: "utf8" });
  const backend = http.createServer((_req, res) => {
    res.end(JSON.stringify({ uid: process.getuid?.(), rootless: isRootless(), net: fs.readlinkSync("/proc/self/ns/net"), netnsAdded: netns.status === 0 }));
  });
  await new Promise<void>((resolve) => backend.listen(port + 1, "127.0.0.1", resolve));
  const lb = new LocalLoadBalancer("127.0.0.1", port, () => [{ host: "127.0.0.1", port: port + 1 }]);
  await lb.start();
  backend.once("request", (_req, res) => res.once("finish", () => setTimeout(() => process.exit(7), 100)));
}

void main();
