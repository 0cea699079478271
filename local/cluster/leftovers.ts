import * as fs from "fs";
import * as path from "path";
import { namespacesOf, processesIn } from "./bridge";
import { processesInUserNamespace } from "./rootless";

/**
 * What an earlier run killed hard (SIGKILL, a closed terminal) leaves behind: its containers
 * keep running in their network namespaces, detached from the dead harness. They must stop
 * before the next run deletes those namespaces or empties the volumes they write to.
 */

const signal = (pids: number[], sig: NodeJS.Signals) => {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* exited meanwhile */
    }
  }
};

/** Where an earlier run's containers may still run, and how to list them now. */
export interface Leftovers {
  where: string;
  pids(): number[];
}

/** A site's pod namespaces (`<prefix>-*`), as root. */
export const leftoversInSite = (prefix: string): Leftovers => ({ where: `the ${prefix}-* namespaces`, pids: () => namespacesOf(prefix).flatMap(processesIn) });

/** A rootless run's user namespace: its pods' namespaces are gone from view with it, its processes are not. */
export const leftoversInUserNamespace = (userNamespace: string): Leftovers => ({ where: `the user namespace ${userNamespace}`, pids: () => processesInUserNamespace(userNamespace) });

/**
 * Stop every process left as the kubelet stops a container: SIGTERM (Redis writes its AOF and
 * exits), then SIGKILL to what still runs after GRACE_MS. A script may fork while it is
 * stopped, so each round signals whatever is left now. Returns the command line of each
 * process it stopped.
 */
export async function stopLeftoverContainers(leftovers: Leftovers, graceMs: number): Promise<string[]> {
  const running = () => leftovers.pids().filter(alive);
  const seen = new Map<number, string>();
  const round = (sig: NodeJS.Signals) => {
    const pids = running().filter((pid) => sig === "SIGKILL" || !seen.has(pid));
    for (const pid of pids) if (!seen.has(pid)) seen.set(pid, commandLine(pid) ?? "?");
    signal(pids, sig);
  };
  const deadline = Date.now() + graceMs;
  for (round("SIGTERM"); Date.now() < deadline && running().length > 0; round("SIGTERM")) await pause(100);
  for (let i = 0; i < 100 && running().length > 0; i++) {
    round("SIGKILL");
    await pause(20);
  }
  const left = running();
  if (left.length > 0) throw new Error(`processes ${left.join(", ")} in ${leftovers.where} survived SIGKILL`);
  return [...seen.values()];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    // A zombie (exited, not reaped by its dead parent's reaper yet) has no more work to do.
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

/**
 * One run per state directory: records this process in `<baseDir>/run.pid`, or refuses when a
 * live run already holds it (another `npm start` whose pods and volumes this one would take
 * over). A file left by a run that died is taken over.
 */
export const RUN_CLAIM_FILE = "run.pid";
export function claimStateDirectory(baseDir: string, what: string): () => void {
  refuseIfClaimed(baseDir, what);
  const file = path.join(baseDir, RUN_CLAIM_FILE);
  fs.writeFileSync(file, `${process.pid}\n`);
  return () => {
    if (fs.existsSync(file) && Number(fs.readFileSync(file, "utf8").trim()) === process.pid) fs.rmSync(file);
  };
}

/** The claim's check alone: throws when another live run holds the directory. */
export function refuseIfClaimed(baseDir: string, what: string): void {
  const file = path.join(baseDir, RUN_CLAIM_FILE);
  const holder = fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8").trim()) : NaN;
  // The same entry point, so that a pid reused by another program does not block a start.
  const ours = (pid: number) => alive(pid) && (commandLine(pid) ?? "").includes(path.basename(process.argv[1] ?? "main"));
  if (Number.isInteger(holder) && holder !== process.pid && ours(holder)) {
    throw new Error(`${what} is already running for ${baseDir} (pid ${holder}, ${commandLine(holder)?.slice(0, 120) ?? "?"}): stop it first`);
  }
}
