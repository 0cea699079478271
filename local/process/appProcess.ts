import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { StackConfig } from "../../config/schema";
import { APP_SECRET_VARIABLES, APP_TOKENS_VARIABLE, appVariables } from "../../k8s/appEnvironment";
import { SENTINEL_PORT } from "../../k8s/redis/render";
import { Credentials } from "../../probe/connection";
import { rolePassword } from "../credentials";
import { waitFor } from "../../probe/wait";

export const APP_BINARY = path.resolve(__dirname, "../../app/build/redis-dr-app");

export interface AppProcess {
  /** The public API (and a /readyz without detail), what the NodeBalancer would reach. */
  url: string;
  port: number;
  /** /healthz, /readyz and /metrics: the probe listener. */
  probeUrl: string;
  /** The bearer token the API accepts. */
  apiToken: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<number | null>;
}

/** Each local instance's probe listener: its API port plus this (18080 -> 28080). */
export const LOCAL_PROBE_PORT_OFFSET = 10_000;

/**
 * Runs the C++ service (app/build/redis-dr-app) against a topology's Sentinels,
 * with the environment the Deployment sets, and waits until /healthz answers.
 */
export async function startApp(opts: {
  cfg: StackConfig;
  sentinels: string[];
  creds: Credentials;
  port: number;
  /** The bearer token the API is to accept. */
  apiToken: string;
  logFile: string;
  env?: Record<string, string>;
}): Promise<AppProcess> {
  if (!fs.existsSync(APP_BINARY)) throw new Error(`${APP_BINARY} is missing; build it with: npm run app:build`);
  const log = fs.openSync(opts.logFile, "a");
  const child = spawn(APP_BINARY, [], {
    env: {
      PATH: process.env.PATH,
      ...appVariables({
        sentinelHosts: opts.sentinels.join(","),
        sentinelPort: SENTINEL_PORT,
        masterName: opts.cfg.masterName,
        aclUser: "app",
        // Local instances share the host: loopback only, and no load balancer to drain for.
        httpBind: "127.0.0.1",
        httpPort: opts.port,
        probePort: opts.port + LOCAL_PROBE_PORT_OFFSET,
        waitReplicas: opts.cfg.appWaitReplicas,
        waitTimeoutMs: opts.cfg.appWaitTimeoutMs,
        requestTimeoutMs: opts.cfg.appRequestTimeoutMs,
        idempotencyKeepSeconds: opts.cfg.appIdempotencyKeepSeconds,
        shutdownDrainSeconds: 0,
      }),
      // Every secret variable of the service is the app user's password (APP_SECRET_VARIABLES).
      ...Object.fromEntries(Object.keys(APP_SECRET_VARIABLES).map((name) => [name, rolePassword(opts.creds, "app")])),
      [APP_TOKENS_VARIABLE]: opts.apiToken,
      ...opts.env,
    },
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${opts.port}`;
  const probeUrl = `http://127.0.0.1:${opts.port + LOCAL_PROBE_PORT_OFFSET}`;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await waitFor(
    `the service on port ${opts.port} to answer /healthz`,
    async () => {
      if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}; see ${opts.logFile}`);
      return fetch(`${probeUrl}/healthz`).then((r) => r.ok, () => false);
    },
    10_000,
    100,
  );
  return {
    url,
    port: opts.port,
    probeUrl,
    apiToken: opts.apiToken,
    child,
    logFile: opts.logFile,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Wait until every instance answers /readyz (it reaches the Redis master). */
export async function waitUntilReady(apps: AppProcess[], timeoutMs = 30_000): Promise<void> {
  await waitFor(
    "the service instances to be ready",
    async () => (await Promise.all(apps.map((a) => fetch(`${a.probeUrl}/readyz`).then((r) => r.ok, () => false)))).every(Boolean),
    timeoutMs,
  );
}
