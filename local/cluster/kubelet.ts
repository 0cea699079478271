import { ChildProcess, spawn } from "child_process";
import { EventEmitter } from "events";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { POD_PATHS } from "../../k8s/redis/render";
import { Action, ContainerSpec, localPath, PodSpec, ProbeSpec } from "./podSpec";
import { runCollecting } from "../scriptProcess";

/** Where a pod's processes run: its network (namespace or address) and its log directory. */
export interface Sandbox {
  /** The command line that runs `command` inside the pod's network. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /** The pod's IP: the kubelet sends HTTP and TCP probes there from the node, as the real one does. */
  ip: string;
  logDir: string;
}

/**
 * The kubelet's restart back-off (Kubernetes docs, "Pod Lifecycle: container restarts"): the
 * first restart is immediate, then 10 s doubling to a 5 minute cap, reset once a container
 * has run for 10 minutes.
 */
export interface RestartBackoff {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
}
export const KUBELET_BACKOFF: RestartBackoff = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

export type KubeletEvent = { at: number; pod: string; container?: string; event: string };

interface ContainerState {
  spec: ContainerSpec;
  child?: ChildProcess;
  startedAt: number;
  restarts: number;
  /** Consecutive restarts since the last reset (the back-off's exponent). */
  crashes: number;
  started: boolean;
  ready: boolean;
  /** Held down by the harness: not restarted until released. */
  held: boolean;
  timers: NodeJS.Timeout[];
  /** A liveness or startup failure is stopping it (no second kill meanwhile). */
  killing: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A small kubelet for one pod: runs each container as a process in the pod's sandbox,
 * restarts it when it exits or fails its liveness (or startup) probe, with the real
 * back-off; tracks readiness from the readiness probes; on deletion runs each container's
 * preStop, then SIGTERM, then SIGKILL at the end of the grace period.
 * Emits "readiness" (boolean) when the pod's readiness changes, and "event" (KubeletEvent).
 */
export class KubeletPod extends EventEmitter {
  private readonly containers = new Map<string, ContainerState>();
  private phase: "pending" | "running" | "terminating" | "gone" = "pending";
  private podReady = false;

  constructor(
    readonly spec: PodSpec,
    readonly sandbox: Sandbox,
    private readonly backoff: RestartBackoff = KUBELET_BACKOFF,
  ) {
    super();
    fs.mkdirSync(sandbox.logDir, { recursive: true });
  }

  get name(): string {
    return this.spec.name;
  }

  get ready(): boolean {
    return this.podReady;
  }

  get running(): boolean {
    return this.phase === "running";
  }

  /** Runs the init containers to completion (each retried with back-off), then starts every container. */
  async start(): Promise<void> {
    if (this.phase !== "pending") throw new Error(`pod ${this.name} was already started`);
    this.phase = "running";
    for (const init of this.spec.initContainers) {
      for (let attempt = 0; ; attempt++) {
        if (this.phase !== "running") return;
        const code = await this.runToCompletion(init);
        if (code === 0) break;
        this.note(init.name, `init container exited ${code}`);
        await sleep(this.delayFor(attempt + 1));
      }
    }
    if (this.phase !== "running") return;
    for (const spec of this.spec.containers) {
      const state: ContainerState = { spec, startedAt: 0, restarts: 0, crashes: 0, started: false, ready: false, held: false, timers: [], killing: false };
      this.containers.set(spec.name, state);
      this.launch(state);
    }
  }

  status(container: string): { running: boolean; ready: boolean; restarts: number; pid?: number } {
    const state = this.state(container);
    return { running: isAlive(state.child), ready: state.ready, restarts: state.restarts, ...(state.child?.pid ? { pid: state.child.pid } : {}) };
  }

  /** Send a signal to a container's processes (a crash, a hang): the kubelet reacts as it would. */
  signal(container: string, signal: NodeJS.Signals): void {
    signalGroup(this.state(container).child, signal);
  }

  /**
   * Keep a container down and do not restart it until released (a fault a drill holds): killed,
   * or with GRACEFUL stopped as at a node's shutdown (SIGTERM, SIGKILL when the grace period ends, no hook).
   */
  async hold(container: string, graceful = false): Promise<void> {
    const state = this.state(container);
    state.held = true;
    await this.stopContainer(state, graceful ? this.spec.graceMs : 0, false);
  }

  release(container: string): void {
    const state = this.state(container);
    if (!state.held) return;
    state.held = false;
    if (this.phase === "running" && !isAlive(state.child)) this.launch(state);
  }

  /** Graceful deletion: unready at once, each container's preStop then SIGTERM, SIGKILL when the grace period ends. */
  async delete(): Promise<void> {
    if (this.phase === "gone" || this.phase === "terminating") return;
    this.phase = "terminating";
    this.setReady(false);
    this.note(undefined, "deleting");
    const deadline = Date.now() + this.spec.graceMs;
    await Promise.all([...this.containers.values()].map((state) => this.stopContainer(state, deadline - Date.now(), true)));
    this.phase = "gone";
    this.note(undefined, "deleted");
  }

  /** The node shuts down: SIGTERM to every container (no hook), SIGKILL when the grace period ends. */
  async shutdown(): Promise<void> {
    if (this.phase === "gone" || this.phase === "terminating") return;
    this.phase = "terminating";
    this.setReady(false);
    await Promise.all([...this.containers.values()].map((state) => this.stopContainer(state, this.spec.graceMs, false)));
    this.phase = "gone";
  }

  /** The node is gone: every process is killed at once, no hook runs, nothing restarts. */
  async kill(): Promise<void> {
    if (this.phase === "gone") return;
    this.phase = "gone";
    this.setReady(false);
    this.note(undefined, "killed (node lost)");
    await Promise.all([...this.containers.values()].map((state) => this.stopContainer(state, 0, false)));
  }

  /** `kubectl exec POD -c CONTAINER -- bash <scripts>/SCRIPT ARGS`: one of the pod's scripts, at the path the container mounts them. */
  script(container: string, script: string, args: string[] = [], timeoutMs = 0, env: Record<string, string> = {}, onOutput?: (chunk: string) => void): Promise<{ code: number; output: string }> {
    return this.exec(container, ["bash", this.scriptPath(container, script), ...args], timeoutMs, env, onOutput);
  }

  scriptPath(container: string, script: string): string {
    return localPath(this.containerSpec(container), `${POD_PATHS.scripts}/${script}`);
  }

  /** `kubectl exec`: run a command in a container's environment inside the pod's network. */
  exec(container: string | undefined, argv: string[], timeoutMs = 0, env: Record<string, string> = {}, onOutput?: (chunk: string) => void): Promise<{ code: number; output: string }> {
    const base = (container === undefined ? this.spec.containers[0] : this.containerSpec(container))?.env ?? {};
    return this.runProcess(argv, { ...base, ...env }, timeoutMs, onOutput);
  }

  // From the spec, not the running state: an init step runs before any container has started.
  private containerSpec(container: string): ContainerSpec {
    const spec = this.spec.containers.find((c) => c.name === container);
    if (!spec) throw new Error(`pod ${this.name} has no container "${container}"`);
    return spec;
  }

  private state(container: string): ContainerState {
    const state = this.containers.get(container);
    if (!state) throw new Error(`pod ${this.name} has no running container "${container}" (it has ${[...this.containers.keys()].join(", ")})`);
    return state;
  }

  private note(container: string | undefined, event: string): void {
    this.emit("event", { at: Date.now(), pod: this.name, ...(container ? { container } : {}), event } satisfies KubeletEvent);
  }

  /** The n-th consecutive restart's delay: the first is immediate, then initial doubling to the cap. */
  private delayFor(crashes: number): number {
    if (crashes <= 1) return 0;
    return Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (crashes - 2));
  }

  private launch(state: ContainerState): void {
    const { spec } = state;
    const log = fs.openSync(path.join(this.sandbox.logDir, `${spec.name}.log`), "a");
    const wrapped = this.sandbox.wrap(spec.argv[0]!, spec.argv.slice(1));
    const child = spawn(wrapped.command, wrapped.args, { env: { PATH: process.env.PATH, ...spec.env }, stdio: ["ignore", log, log], detached: true });
    fs.closeSync(log);
    state.child = child;
    state.startedAt = Date.now();
    state.started = !spec.startup;
    state.killing = false;
    this.note(spec.name, `started (pid ${child.pid})`);
    child.once("exit", (code, signal) => this.exited(state, child, code, signal));
    this.scheduleProbes(state);
  }

  private exited(state: ContainerState, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (state.child !== child) return;
    for (const timer of state.timers.splice(0)) clearTimeout(timer);
    state.started = false;
    this.setContainerReady(state, false);
    this.note(state.spec.name, `exited (${signal ?? `code ${code}`})`);
    if (this.phase !== "running" || state.held) return;
    state.crashes = Date.now() - state.startedAt >= this.backoff.resetAfterMs ? 1 : state.crashes + 1;
    const delay = this.delayFor(state.crashes);
    if (delay > 0) this.note(state.spec.name, `back-off ${delay / 1000} s`);
    const timer = setTimeout(() => {
      if (this.phase === "running" && !state.held && !isAlive(state.child)) {
        state.restarts++;
        this.launch(state);
      }
    }, delay);
    state.timers.push(timer);
  }

  private scheduleProbes(state: ContainerState): void {
    const { spec } = state;
    const loop = (probe: ProbeSpec, onResult: (ok: boolean) => void, gate: () => boolean) => {
      let successes = 0;
      let failures = 0;
      const tick = async () => {
        if (!isAlive(state.child) || state.killing) return;
        if (gate()) {
          const ok = await this.probe(probe, spec);
          if (!isAlive(state.child) || state.killing) return;
          successes = ok ? successes + 1 : 0;
          failures = ok ? 0 : failures + 1;
          if (ok && successes >= probe.successThreshold) onResult(true);
          if (!ok && failures >= probe.failureThreshold) onResult(false);
        }
        state.timers.push(setTimeout(() => void tick(), probe.periodMs));
      };
      state.timers.push(setTimeout(() => void tick(), probe.initialDelayMs));
    };
    if (spec.startup) {
      loop(spec.startup, (ok) => {
        if (ok && !state.started) {
          state.started = true;
          if (!spec.readiness) this.setContainerReady(state, true);
        } else if (!ok && !state.started) void this.failContainer(state, "startup probe failed");
      }, () => !state.started);
    }
    if (spec.liveness) loop(spec.liveness, (ok) => void (ok || this.failContainer(state, "liveness probe failed")), () => state.started);
    if (spec.readiness) loop(spec.readiness, (ok) => this.setContainerReady(state, ok), () => state.started);
    else if (state.started) this.setContainerReady(state, true);
  }

  /** A failed liveness or startup probe: the container is stopped as on deletion (preStop, grace), then restarted. */
  private async failContainer(state: ContainerState, why: string): Promise<void> {
    if (state.killing) return;
    this.note(state.spec.name, `${why}; restarting`);
    await this.stopContainer(state, this.spec.graceMs, true);
  }

  private async stopContainer(state: ContainerState, graceMs: number, runPreStop: boolean): Promise<void> {
    const child = state.child;
    state.killing = true;
    for (const timer of state.timers.splice(0)) clearTimeout(timer);
    this.setContainerReady(state, false);
    if (!isAlive(child)) return;
    const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));
    const killTimer = setTimeout(() => signalGroup(child, "SIGKILL"), Math.max(0, graceMs));
    if (graceMs <= 0) signalGroup(child, "SIGKILL");
    else {
      if (runPreStop && state.spec.preStop) {
        // The hook's output goes to the container's log (the real kubelet keeps it only in a failure event).
        const log = path.join(this.sandbox.logDir, `${state.spec.name}.log`);
        const hook = this.runAction(state.spec.preStop, state.spec, graceMs, (chunk) => fs.appendFileSync(log, chunk)).then((r) =>
          this.note(state.spec.name, `preStop ${r.ok ? "done" : `failed: ${r.detail}`}`),
        );
        await Promise.race([hook, exited]);
      }
      signalGroup(child, "SIGTERM");
    }
    await exited;
    clearTimeout(killTimer);
  }

  private setContainerReady(state: ContainerState, ready: boolean): void {
    if (state.ready !== ready) {
      state.ready = ready;
      this.note(state.spec.name, ready ? "ready" : "not ready");
    }
    const all = this.phase === "running" && this.containers.size === this.spec.containers.length && [...this.containers.values()].every((c) => c.ready);
    this.setReady(all);
  }

  private setReady(ready: boolean): void {
    if (this.podReady === ready) return;
    this.podReady = ready;
    this.emit("readiness", ready);
  }

  private async probe(probe: ProbeSpec, spec: ContainerSpec): Promise<boolean> {
    return (await this.runAction(probe.action, spec, probe.timeoutMs)).ok;
  }

  private async runAction(action: Action, spec: ContainerSpec, timeoutMs: number, onOutput?: (chunk: string) => void): Promise<{ ok: boolean; detail: string }> {
    switch (action.kind) {
      case "exec": {
        const result = await this.runProcess(action.argv, spec.env, timeoutMs, onOutput);
        return { ok: result.code === 0, detail: result.code === 0 ? "" : `exit ${result.code}: ${result.output.trim().split("\n").at(-1) ?? ""}` };
      }
      case "http":
        // Kubernetes counts any status from 200 to 399 as success.
        return fetch(`http://${this.sandbox.ip}:${action.port}${action.path}`, { signal: AbortSignal.timeout(timeoutMs) }).then(
          (r) => ({ ok: r.status >= 200 && r.status < 400, detail: `HTTP ${r.status}` }),
          (e: Error) => ({ ok: false, detail: e.message }),
        );
      case "tcp":
        return new Promise((resolve) => {
          const socket = net.connect({ host: this.sandbox.ip, port: action.port, timeout: timeoutMs });
          const done = (ok: boolean, detail: string) => {
            socket.destroy();
            resolve({ ok, detail });
          };
          socket.once("connect", () => done(true, ""));
          socket.once("timeout", () => done(false, "timeout"));
          socket.once("error", (e) => done(false, e.message));
        });
    }
  }

  private runToCompletion(spec: ContainerSpec): Promise<number> {
    return this.runProcess(spec.argv, spec.env, 0, (chunk) => fs.appendFileSync(path.join(this.sandbox.logDir, `${spec.name}.log`), chunk)).then((r) => r.code);
  }

  private runProcess(argv: string[], env: Record<string, string>, timeoutMs: number, onOutput?: (chunk: string) => void): Promise<{ code: number; output: string }> {
    const wrapped = this.sandbox.wrap(argv[0]!, argv.slice(1));
    return runCollecting(wrapped.command, wrapped.args, { PATH: process.env.PATH, ...env }, onOutput, timeoutMs);
  }
}

function isAlive(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Signal a container's whole process group (its script and the server it runs). */
function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || !isAlive(child)) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}
