import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { waitFor } from "../probe/wait";

// The local runtime without root (scripts/rootless.sh, local/cluster/rootless.ts), as an
// unprivileged user would run it: nobody, from a copy of the script any user can read.
const NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"];
const asRoot = process.getuid?.() === 0;
const repoReadable = spawnSync("setpriv", [...NOBODY, "test", "-r", path.resolve("node_modules/.bin/tsx")]).status === 0;

describe.skipIf(!asRoot)("the runtime's way in without root", () => {
  it("gives an unprivileged user namespaces, a bridge and per-namespace hosts files, and leaves the host's untouched", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-rootless-"));
    fs.chmodSync(dir, 0o755);
    const script = path.join(dir, "rootless.sh");
    fs.copyFileSync(path.resolve("scripts/rootless.sh"), script);
    const inside = [
      "id -u",
      "ip netns add rootless-test",
      "mkdir -p /etc/netns/rootless-test",
      "echo '10.231.99.10 redis-0.redis-headless.redis-dr.svc.cluster.local' > /etc/netns/rootless-test/hosts",
      "ip netns exec rootless-test getent hosts redis-0.redis-headless.redis-dr.svc.cluster.local",
      "ip link add rootless-br type bridge && echo bridge",
      "ip link add rootless-v0 type veth peer name eth0 netns rootless-test && echo veth",
    ].join(" && ");
    const result = spawnSync("setpriv", [...NOBODY, "bash", script, "bash", "-c", inside], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH, TMPDIR: os.tmpdir(), HOME: dir } });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout.split("\n").filter(Boolean)).toEqual(["0", "10.231.99.10    redis-0.redis-headless.redis-dr.svc.cluster.local", "bridge", "veth"]);
    expect(fs.existsSync("/etc/netns/rootless-test")).toBe(false);
    expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toMatch(/rootless-test/);
  });

  it.skipIf(!repoReadable)("serves a listener opened on the host from inside the user namespace, and relays the exit code", async () => {
    const port = 18970;
    const run = spawn("setpriv", [...NOBODY, path.resolve("node_modules/.bin/tsx"), path.resolve("test/helpers/rootlessRun.ts"), String(port)], {
      env: { PATH: process.env.PATH, TMPDIR: os.tmpdir(), HOME: os.tmpdir() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    run.stdout.on("data", (d: Buffer) => (output += d));
    run.stderr.on("data", (d: Buffer) => (output += d));
    const exited = new Promise<number | null>((resolve) => run.once("exit", (code) => resolve(code)));
    let answer: { uid: number; rootless: boolean; net: string; netnsAdded: boolean } | undefined;
    await waitFor(
      `the rootless run to answer on 127.0.0.1:${port} (${output})`,
      async () => {
        answer = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.json() as Promise<typeof answer>, () => undefined);
        return answer !== undefined;
      },
      30_000,
      200,
    );
    expect(answer).toEqual({ uid: 0, rootless: true, net: expect.stringMatching(/^net:\[\d+\]$/), netnsAdded: true });
    expect(answer!.net).not.toBe(fs.readlinkSync("/proc/self/ns/net"));
    expect(await exited).toBe(7);
  });
});
