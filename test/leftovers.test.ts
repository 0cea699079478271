import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { PodBridge, processesIn } from "../local/cluster/bridge";
import { claimStateDirectory, leftoversInSite, leftoversInUserNamespace, stopLeftoverContainers } from "../local/cluster/leftovers";
import { namespacesAvailable } from "../local/cluster/bridge";
import { waitFor } from "../probe/wait";
import { LOCAL_SITES } from "../local/cluster/sites";
import { SUITE_BRIDGES } from "./helpers/suiteNetworks";

// What a run killed with SIGKILL leaves: containers still running in their namespaces,
// detached from the dead harness. Real processes in real network namespaces.
const PREFIX = SUITE_BRIDGES.leftovers.prefix;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-leftovers-"));
const ip = (...args: string[]) => expect(spawnSync("ip", args).status).toBe(0);
const alive = (pid: number) => fs.existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));

/** A process started in NAMESPACE the way the kubelet starts a container, then forgotten. */
function leftBehind(namespace: string, command: string, args: string[]): number {
  const child = spawn("ip", ["netns", "exec", namespace, command, ...args], { detached: true, stdio: "ignore" });
  child.unref();
  return child.pid!;
}

afterAll(() => {
  for (const name of ["pod-a", "pod-b"]) spawnSync("ip", ["netns", "delete", `${PREFIX}-${name}`]);
});

describe.skipIf(!namespacesAvailable())("containers an earlier run left behind", () => {
  it("are stopped with SIGTERM first, so Redis exits cleanly, and SIGKILL for what ignores it", async () => {
    ip("netns", "add", `${PREFIX}-pod-a`);
    ip("-n", `${PREFIX}-pod-a`, "link", "set", "lo", "up");
    const log = path.join(dir, "redis.log");
    const redis = leftBehind(`${PREFIX}-pod-a`, "redis-server", ["--bind", "127.0.0.1", "--port", "6379", "--dir", dir, "--appendonly", "yes", "--logfile", log, "--save", ""]);
    const stubborn = leftBehind(`${PREFIX}-pod-a`, "bash", ["-c", "trap '' TERM; while :; do sleep 0.1; done"]);
    await waitFor("redis-server to be ready", async () => fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("Ready to accept connections"), 10_000);
    expect(processesIn(`${PREFIX}-pod-a`).length).toBeGreaterThanOrEqual(2);

    const stopped = await stopLeftoverContainers(leftoversInSite(PREFIX), 2000);
    expect(stopped.some((line) => line.startsWith("redis-server"))).toBe(true);
    expect(alive(redis)).toBe(false);
    expect(alive(stubborn)).toBe(false);
    expect(processesIn(`${PREFIX}-pod-a`)).toEqual([]);
    // SIGTERM, not SIGKILL: Redis ran its shutdown (AOF flushed).
    expect(fs.readFileSync(log, "utf8")).toMatch(/Received SIGTERM scheduling shutdown/);
    expect(fs.readFileSync(log, "utf8")).toMatch(/ready to exit, bye bye/);
  });

  it("of a rootless run are found by its user namespace, which outlives the run's harness", async () => {
    // What scripts/rootless.sh makes, without the harness: a process alone in a user namespace of its own.
    const orphan = spawn("unshare", ["-U", "sleep", "600"], { detached: true, stdio: "ignore" });
    orphan.unref();
    await waitFor("the process to be in its user namespace", async () => fs.readlinkSync(`/proc/${orphan.pid}/ns/user`) !== fs.readlinkSync("/proc/self/ns/user"), 5000);
    const userNamespace = fs.readlinkSync(`/proc/${orphan.pid}/ns/user`);
    expect(leftoversInUserNamespace(userNamespace).pids()).toEqual([orphan.pid]);
    const stopped = await stopLeftoverContainers(leftoversInUserNamespace(userNamespace), 2000);
    expect(stopped).toEqual(["sleep 600"]);
    expect(alive(orphan.pid!)).toBe(false);
  });

  it("never outlive the namespaces a bridge removes when it is set up again", async () => {
    ip("netns", "add", `${PREFIX}-pod-b`);
    const sleeper = leftBehind(`${PREFIX}-pod-b`, "sleep", ["600"]);
    await waitFor("the process to be in its namespace", async () => processesIn(`${PREFIX}-pod-b`).length > 0, 5000);
    const bridge = new PodBridge(PREFIX, SUITE_BRIDGES.leftovers.subnet);
    bridge.setUp();
    try {
      await waitFor("the left process to be gone", async () => !alive(sleeper), 5000);
      expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toContain(`${PREFIX}-pod-b`);
    } finally {
      bridge.tearDown();
    }
  });
});

describe("the pod networks of the runtimes and the suites", () => {
  it("never share a subnet, and no site's namespaces fall under another's prefix", () => {
    const sites = [...Object.values(LOCAL_SITES), ...Object.values(SUITE_BRIDGES)];
    const clashes = sites.flatMap((a, i) => sites.slice(i + 1).filter((b) => a.prefix === b.prefix || a.prefix.startsWith(`${b.prefix}-`) || b.prefix.startsWith(`${a.prefix}-`)).map((b) => `${a.prefix}/${b.prefix}`));
    expect(clashes).toEqual([]);
    const subnets = sites.map((s) => s.subnet);
    expect(new Set(subnets).size).toBe(subnets.length);
  });
});

describe("the state directory claim", () => {
  it("refuses a second run while the first lives, and is taken over from a run that died", async () => {
    const state = fs.mkdtempSync(path.join(dir, "state-"));
    // A live run of the same entry point (its command line names it).
    const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)", "--", path.basename(process.argv[1]!)], { stdio: "ignore" });
    await new Promise((resolve) => other.once("spawn", resolve));
    fs.writeFileSync(path.join(state, "run.pid"), `${other.pid}\n`);
    expect(() => claimStateDirectory(state, "npm start")).toThrow(new RegExp(`npm start is already running for .* \\(pid ${other.pid}`));
    other.kill("SIGKILL");
    await new Promise((resolve) => other.once("exit", resolve));
    const release = claimStateDirectory(state, "npm start");
    expect(fs.readFileSync(path.join(state, "run.pid"), "utf8").trim()).toBe(String(process.pid));
    release();
    expect(fs.existsSync(path.join(state, "run.pid"))).toBe(false);
  });
});
