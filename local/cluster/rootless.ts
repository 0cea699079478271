import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/**
 * The local runtime builds its pod networks with ip-netns(8), which wants root. Without root,
 * a command re-runs itself under scripts/rootless.sh: as root of a new user, network and mount
 * namespace, where the same runtime works unchanged (measured on Debian 12: netns, bridge,
 * veth, `ip netns exec`, per-namespace hosts files, a partition by link down). What the user
 * namespace cannot give is a way in from the host's network, so a listener the host must
 * reach (`npm start`'s public port) is opened out here and its socket passed in.
 */

const ROOTLESS_SCRIPT = path.resolve(__dirname, "../../scripts/rootless.sh");
/** Set in the re-run process: which listeners it inherited, as `host:port=fd,...`. */
const INHERITED_LISTENERS_VARIABLE = "REDIS_DR_INHERITED_LISTENERS";
const ROOTLESS_VARIABLE = "REDIS_DR_ROOTLESS";
/** Written by a rootless run into its state directory: how later commands find its namespaces. */
const ROOTLESS_RUN_FILE = "rootless.json";

export interface RootlessRun {
  /** A process in the run's namespaces (its harness), for nsenter. */
  pid: number;
  /** The run's user namespace (`user:[inode]`), which outlives the harness while a container runs in it. */
  userNamespace: string;
}

/** Whether this process runs in a rootless namespace set up by scripts/rootless.sh. */
export function isRootless(): boolean {
  return process.env[ROOTLESS_VARIABLE] === "1";
}

/**
 * As root, nothing to do. Otherwise this process is run again under scripts/rootless.sh with
 * its own arguments, inheriting a listening socket for each of LISTENERS, and this one only
 * relays signals and exits with its exit code: the returned promise never settles here.
 */
export async function rerunRootlessUnlessRoot(listeners: Array<{ host: string; port: number }> = []): Promise<void> {
  if (process.getuid?.() === 0) return;
  const servers = await Promise.all(listeners.map(listenOnHost));
  const fds = servers.map((server) => (server as unknown as { _handle: { fd: number } })._handle.fd);
  const child = spawn("bash", [ROOTLESS_SCRIPT, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: ["inherit", "inherit", "inherit", ...fds],
    env: {
      ...process.env,
      [ROOTLESS_VARIABLE]: "1",
      [INHERITED_LISTENERS_VARIABLE]: listeners.map((l, i) => `${l.host}:${l.port}=${3 + i}`).join(","),
    },
  });
  // The child holds its own copies now; this process must not accept on them.
  for (const server of servers) server.close();
  // Ctrl-C reaches the whole foreground group, the child included: only relay what is sent to us alone.
  process.on("SIGINT", () => {});
  for (const signal of ["SIGTERM", "SIGHUP"] as const) process.on(signal, () => child.kill(signal));
  const code = await new Promise<number>((resolve) => child.on("exit", (c, signal) => resolve(c ?? (signal ? 128 : 1))));
  process.exit(code);
}

function listenOnHost({ host, port }: { host: string; port: number }): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once("error", (error) => reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}

/** The socket the host side opened for HOST:PORT, if this process was given one. */
export function inheritedListener(host: string, port: number): number | undefined {
  for (const entry of (process.env[INHERITED_LISTENERS_VARIABLE] ?? "").split(",").filter(Boolean)) {
    const [address, fd] = entry.split("=");
    if (address === `${host}:${port}`) return Number(fd);
  }
  return undefined;
}

/** Record this rootless run in its state directory, for the commands that act on it. */
export function recordRootlessRun(baseDir: string): () => void {
  const file = path.join(baseDir, ROOTLESS_RUN_FILE);
  const run: RootlessRun = { pid: process.pid, userNamespace: fs.readlinkSync("/proc/self/ns/user") };
  fs.writeFileSync(file, JSON.stringify(run));
  return () => fs.rmSync(file, { force: true });
}

export function readRootlessRun(baseDir: string): RootlessRun | undefined {
  const file = path.join(baseDir, ROOTLESS_RUN_FILE);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as RootlessRun) : undefined;
}

/** Every process still in a rootless run's user namespace (its containers, after a hard kill of the run). */
export function processesInUserNamespace(userNamespace: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return pid !== process.pid && fs.readlinkSync(`/proc/${pid}/ns/user`) === userNamespace;
      } catch {
        return false;
      }
    });
}

/**
 * A command that acts on a running `npm start` (a backup, a switchover) joins its namespaces
 * when that run is rootless and this process is not in them yet: it runs again under nsenter
 * (as the namespace's root) and this one exits with its code. Resolves where the work goes on.
 */
export async function joinRootlessRun(baseDir: string): Promise<void> {
  if (process.getuid?.() === 0) return;
  const run = readRootlessRun(baseDir);
  if (!run || !processesInUserNamespace(run.userNamespace).includes(run.pid)) return;
  const result = spawnSync("nsenter", ["-t", String(run.pid), "-U", "--preserve-credentials", "-n", "-m", `--wd=${process.cwd()}`, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, [ROOTLESS_VARIABLE]: "1", TMPDIR: path.join(os.tmpdir(), `redis-dr-rootless-${process.getuid?.()}`) },
  });
  process.exit(result.status ?? 1);
}

/** How a shell on the host gets into a rootless run's namespaces (nothing as root). */
export function rootlessPrefix(): string {
  return isRootless() ? `nsenter -t ${process.pid} -U --preserve-credentials -n -m ` : "";
}
