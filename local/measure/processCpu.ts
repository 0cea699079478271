import * as fs from "fs";

/** A process's stat fields after the ")" that ends its command name, or undefined once it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The children a process has now (/proc/PID/task/TID/children of each of its threads). */
function liveChildren(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/))
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds process PID has used so far (user and system; clock ticks of 1/100 s on Linux),
 * and with its descendants when asked: those it has reaped (cutime, cstime) and those still
 * running, such as the shipper's uploader coprocess. 0 once it is gone.
 */
export function cpuSecondsOf(pid: number | undefined, withDescendants = false): number {
  if (!pid) return 0;
  const fields = statFields(pid);
  if (!fields) return 0;
  // utime is the 12th field after the command name, then stime, cutime, cstime.
  const own = fields.slice(11, withDescendants ? 15 : 13).reduce((sum, f) => sum + Number(f), 0) / 100;
  return withDescendants ? liveChildren(pid).reduce((sum, child) => sum + cpuSecondsOf(child, true), own) : own;
}

/** The processes whose command name (/proc/PID/comm) is NAME, such as every pod's redis-server. */
export function processesNamed(name: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === name;
      } catch {
        return false;
      }
    })
    .map(Number);
}
