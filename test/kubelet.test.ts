import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { KubeletEvent, KubeletPod, RestartBackoff } from "../local/cluster/kubelet";
import { ContainerSpec, PodSpec, ProbeSpec } from "../local/cluster/podSpec";
import { waitFor } from "../probe/wait";

// The local kubelet against small bash containers on the host's network: each test asserts
// one behaviour of the real kubelet the local topology relies on.
const FAST: RestartBackoff = { initialMs: 400, maxMs: 800, resetAfterMs: 60_000 };
const pods: KubeletPod[] = [];

/** A pod of the containers `containers(dir)` describes, dir being a fresh directory for the test's files. */
function pod(containers: (dir: string) => ContainerSpec[], graceMs = 2000): { pod: KubeletPod; dir: string; events: KubeletEvent[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-dr-kubelet-"));
  const spec: PodSpec = { name: "p-0", namespace: "test", labels: {}, graceMs, initContainers: [], containers: containers(dir), skipped: [] };
  const kubelet = new KubeletPod(spec, { wrap: (command, args) => ({ command, args }), ip: "127.0.0.1", logDir: dir }, FAST);
  const events: KubeletEvent[] = [];
  kubelet.on("event", (e: KubeletEvent) => events.push(e));
  pods.push(kubelet);
  return { pod: kubelet, dir, events };
}

const bash = (name: string, script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({ name, argv: ["bash", "-c", script], env: {}, mounts: [], ...extra });
const execProbe = (script: string, fields: Partial<ProbeSpec> = {}): ProbeSpec => ({
  action: { kind: "exec", argv: ["bash", "-c", script] },
  initialDelayMs: 0,
  periodMs: 100,
  timeoutMs: 1000,
  successThreshold: 1,
  failureThreshold: 1,
  ...fields,
});
const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : []);

afterEach(async () => {
  await Promise.all(pods.splice(0).map((p) => p.kill()));
});

describe("local kubelet", () => {
  it("restarts an exiting container at once the first time, then after the back-off, doubling", async () => {
    const { pod: p, dir, events } = pod((d) => [bash("crash", `date +%s%3N >> ${d}/starts; exit 3`)]);
    await p.start();
    await waitFor("four starts", async () => lines(path.join(dir, "starts")).length >= 4, 10_000, 20);
    const starts = lines(path.join(dir, "starts")).map(Number);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    // What the kubelet scheduled after each exit: nothing the first time (an immediate restart), then the back-off.
    const afterExits = events.filter((e) => /^(exited|back-off|started)/.test(e.event)).map((e) => e.event.replace(/ \(.*\)$/, ""));
    expect(afterExits.slice(0, 9)).toEqual(["started", "exited", "started", "exited", "back-off 0.4 s", "started", "exited", "back-off 0.8 s", "started"]);
    expect(gaps[1]).toBeGreaterThanOrEqual(400); // then initialMs
    expect(gaps[2]).toBeGreaterThanOrEqual(800); // doubled, at the cap
    expect(p.status("crash").restarts).toBeGreaterThanOrEqual(3);
  });

  it("marks the pod ready only after successThreshold passes and unready after failureThreshold failures", async () => {
    const { pod: p, dir } = pod((d) => [bash("server", "sleep 60", { readiness: execProbe(`test -f ${d}/ready`, { successThreshold: 2, failureThreshold: 3 }) })]);
    const flag = path.join(dir, "ready");
    const changes: Array<{ at: number; ready: boolean }> = [];
    p.on("readiness", (ready: boolean) => changes.push({ at: Date.now(), ready }));
    await p.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(p.ready).toBe(false);
    const madeReady = Date.now();
    fs.writeFileSync(flag, "");
    await waitFor("ready", async () => p.ready, 5000, 10);
    expect(Date.now() - madeReady).toBeGreaterThanOrEqual(100); // two passes, a period apart
    const madeUnready = Date.now();
    fs.rmSync(flag);
    await waitFor("unready", async () => !p.ready, 5000, 10);
    expect(Date.now() - madeUnready).toBeGreaterThanOrEqual(200); // three failures
    expect(changes.map((c) => c.ready)).toEqual([true, false]);
  });

  it("restarts a container that fails its liveness probe, running its preStop first", async () => {
    const { pod: p, dir } = pod((d) => [
      bash("server", `touch ${d}/alive; echo start >> ${d}/log; trap 'echo term >> ${d}/log; exit 0' TERM; while :; do sleep 0.05; done`, {
        // The delay keeps a slow first start (a loaded CI machine) from failing the probe before the touch.
        liveness: execProbe(`test -f ${d}/alive`, { failureThreshold: 2, initialDelayMs: 300 }),
        preStop: { kind: "exec", argv: ["bash", "-c", `echo prestop >> ${d}/log`] },
      }),
    ]);
    const alive = path.join(dir, "alive");
    const log = path.join(dir, "log");
    await p.start();
    await waitFor("started", async () => lines(log).length >= 1, 5000, 10);
    fs.rmSync(alive);
    await waitFor("restarted", async () => lines(log).filter((l) => l === "start").length >= 2, 10_000, 20);
    expect(lines(log).slice(0, 4)).toEqual(["start", "prestop", "term", "start"]);
    expect(p.status("server").restarts).toBe(1);
  });

  it("on deletion runs preStop, then SIGTERM, and SIGKILLs what outlives the grace period", async () => {
    const { pod: p, dir, events } = pod(
      (d) => [
        bash("polite", `trap 'echo polite-term >> ${d}/log; exit 0' TERM; while :; do sleep 0.05; done`, {
          preStop: { kind: "exec", argv: ["bash", "-c", `sleep 0.3; echo polite-prestop >> ${d}/log`] },
        }),
        bash("stubborn", `trap 'echo stubborn-term >> ${d}/log' TERM; while :; do sleep 0.05; done`),
      ],
      1500,
    );
    const log = path.join(dir, "log");
    await p.start();
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await p.delete();
    const took = Date.now() - started;
    const order = lines(log);
    expect(order.indexOf("polite-prestop")).toBeLessThan(order.indexOf("polite-term"));
    expect(order).toContain("stubborn-term");
    expect(took).toBeGreaterThanOrEqual(1500); // the stubborn one lasted to the SIGKILL
    const exits = (name: string) => events.filter((e) => e.container === name && e.event.startsWith("exited")).map((e) => e.event);
    expect(exits("stubborn")).toEqual(["exited (SIGKILL)"]);
    expect(exits("polite")).toEqual(["exited (code 0)"]);
    expect(p.status("stubborn").running).toBe(false);
    expect(p.status("polite").restarts).toBe(0);
  });

  it("keeps a held container down until it is released", async () => {
    const { pod: p, events } = pod(() => [bash("server", "sleep 60")]);
    await p.start();
    await p.hold("server");
    await new Promise((r) => setTimeout(r, 500));
    expect(p.status("server").running).toBe(false);
    p.release("server");
    await waitFor("running again", async () => p.status("server").running, 5000, 10);
    expect(events.filter((e) => e.event.startsWith("started")).length).toBe(2);
  });

  it("runs an exec action with no stdin, so bash reads no rc file of the host's", async () => {
    // Debian's bash sources ~/.bashrc when stdin is a socket; a kubectl exec without -i has none.
    const { pod: p, dir } = pod((d) => [bash("server", "sleep 60", { env: { HOME: d } })]);
    fs.writeFileSync(path.join(dir, ".bashrc"), `echo sourced >> ${dir}/rc\n`);
    await p.start();
    const result = await p.exec("server", ["bash", "-c", "echo ran"], 5000);
    expect(result).toEqual({ code: 0, output: "ran\n" });
    expect(fs.existsSync(path.join(dir, "rc"))).toBe(false);
  });
});
