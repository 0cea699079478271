import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { renderAclUsers, renderSentinelAclUsers } from "../../k8s/redis/acl";
import { hostProcessVariables, POD_NAME_VARIABLE, REDIS_POD_SECRET_VARIABLES, redisPodVariables } from "../../k8s/redis/podEnvironment";
import { renderRedisConf, renderSentinelTemplate, SCRIPT_DIR } from "../../k8s/redis/render";
import { podPassword } from "../credentials";
import { LoopbackNetwork, PodNetwork } from "./network";
import { runCollecting, ScriptResult } from "../scriptProcess";

/** The long-running containers of a Redis pod, each started from its script start-<name>.sh or follow-promotion.sh. */
export const COMPONENTS = ["redis", "sentinel", "promotion-follower"] as const;
export type Component = (typeof COMPONENTS)[number];
const ENTRY_SCRIPTS: Record<Component, string> = {
  redis: "start-redis.sh",
  sentinel: "start-sentinel.sh",
  "promotion-follower": "follow-promotion.sh",
};

export interface LocalPod {
  name: string;
  address: string;
  dir: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
}

export interface TopologyOptions {
  cfg: StackConfig;
  baseDir: string;
  redisPassword: string;
  sentinelPassword: string;
  /** Where the pods live; loopback addresses 127.0.1.10+ unless given (the tests' default). */
  network?: PodNetwork;
  /** Extra environment for every script (e.g. shorter timeouts in tests). */
  extraEnv?: Record<string, string>;
}

/**
 * The production Redis tier on one machine: one "pod" per network namespace
 * (or loopback address), each running the StatefulSet's own start scripts with
 * the rendered config. A pod's stable name is its address, so the scripts
 * announce and resolve it exactly as they would a pod DNS name.
 */
export class LocalTopology {
  readonly pods: LocalPod[];
  readonly network: PodNetwork;
  private readonly processes = new Map<string, ChildProcess>();
  private networkUp = false;

  /** The stack config the pods are rendered from. */
  get settings(): StackConfig {
    return this.opts.cfg;
  }

  constructor(private readonly opts: TopologyOptions) {
    this.network = opts.network ?? new LoopbackNetwork(opts.cfg.redisReplicas, "127.0.1");
    const addresses = this.network.addresses;
    const configDir = path.join(opts.baseDir, "config");
    const secrets = Object.fromEntries(Object.entries(REDIS_POD_SECRET_VARIABLES).map(([name, password]) => [name, podPassword(opts, password)]));
    this.pods = addresses.map((address, i) => {
      const dir = path.join(opts.baseDir, `redis-${i}`);
      const dataDir = path.join(dir, "data");
      return {
        name: `redis-${i}`,
        address,
        dir,
        dataDir,
        env: {
          PATH: process.env.PATH,
          ...redisPodVariables(opts.cfg, { dataDir, configDir, runtimeDir: path.join(dir, "run") }, addresses),
          [POD_NAME_VARIABLE]: address,
          ...hostProcessVariables(address),
          ...secrets,
          ...opts.extraEnv,
        },
      };
    });
  }

  /** Write the ConfigMap's files exactly as the program renders them. */
  renderConfig(): void {
    const configDir = path.join(this.opts.baseDir, "config");
    fs.mkdirSync(configDir, { recursive: true });
    fs.writeFileSync(path.join(configDir, "redis.conf"), renderRedisConf(this.opts.cfg));
    fs.writeFileSync(path.join(configDir, "sentinel.conf"), renderSentinelTemplate(this.opts.cfg));
    fs.writeFileSync(path.join(configDir, "users.acl"), renderAclUsers());
    fs.writeFileSync(path.join(configDir, "sentinel-users.acl"), renderSentinelAclUsers());
    for (const pod of this.pods) fs.mkdirSync(pod.dataDir, { recursive: true });
  }

  start(pod: LocalPod, component: Component): ChildProcess {
    const key = `${pod.name}/${component}`;
    if (this.isRunning(pod, component)) throw new Error(`${key} is already running`);
    const log = fs.openSync(path.join(pod.dir, `${component}.log`), "a");
    const { command, args } = this.network.wrap(this.pods.indexOf(pod), "bash", [path.join(SCRIPT_DIR, ENTRY_SCRIPTS[component])]);
    // `ip netns exec` execs the command in place, so the pid is still the process group leader.
    const child = spawn(command, args, {
      env: pod.env,
      stdio: ["ignore", log, log],
      detached: true,
    });
    fs.closeSync(log);
    this.processes.set(key, child);
    return child;
  }

  isRunning(pod: LocalPod, component: Component): boolean {
    const child = this.processes.get(`${pod.name}/${component}`);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  startPod(pod: LocalPod): void {
    for (const component of COMPONENTS) this.start(pod, component);
  }

  /** A node failure as the pod sees it: every container dies at once. */
  killPod(pod: LocalPod): void {
    for (const component of COMPONENTS) this.signal(pod, component, "SIGKILL");
  }

  /** Network and config files up, nothing started: where init containers run. */
  prepare(): void {
    if (!this.networkUp) {
      this.network.setUp();
      this.networkUp = true;
    }
    this.renderConfig();
  }

  /** Start every container that is not running (a seeded topology already runs some). */
  startAll(): void {
    this.prepare();
    for (const pod of this.pods) {
      for (const component of COMPONENTS) if (!this.isRunning(pod, component)) this.start(pod, component);
    }
  }

  /** Send a signal to a component's whole process group (script and server). */
  signal(pod: LocalPod, component: Component, signal: NodeJS.Signals): void {
    const pid = this.processes.get(`${pod.name}/${component}`)?.pid;
    if (pid !== undefined && this.isRunning(pod, component)) {
      try {
        process.kill(-pid, signal);
      } catch {
        /* already gone */
      }
    }
  }

  async stop(pod: LocalPod, component: Component, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.processes.get(`${pod.name}/${component}`);
    if (!child || !this.isRunning(pod, component)) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    this.signal(pod, component, signal);
    const timer = setTimeout(() => this.signal(pod, component, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async stopPod(pod: LocalPod, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    await Promise.all(COMPONENTS.map((component) => this.stop(pod, component, signal)));
  }

  /** Run one of the pod's hook scripts (probe or preStop) as the kubelet would. */
  runScript(
    pod: LocalPod,
    script: string,
    args: string[] = [],
    extraEnv: Record<string, string> = {},
    onOutput?: (chunk: string) => void,
  ): Promise<ScriptResult> {
    const wrapped = this.network.wrap(this.pods.indexOf(pod), "bash", [path.join(SCRIPT_DIR, script), ...args]);
    return runCollecting(wrapped.command, wrapped.args, { ...pod.env, ...extraEnv }, onOutput);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.pods.map((pod) => this.stopPod(pod)));
  }

  /** Stop every process and remove the pods' network. */
  async shutdown(): Promise<void> {
    await this.stopAll();
    this.network.tearDown();
    this.networkUp = false;
  }

  log(pod: LocalPod, component: Component): string {
    const file = path.join(pod.dir, `${component}.log`);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  }
}
