import { spawn } from "child_process";
import { afterEach, describe, expect, it } from "vitest";
import { processesShowing, watchArgv } from "../local/drill/argvWatch";

// The drills' argv scan against real processes: it must see a secret any user of the node could
// read in /proc/<pid>/cmdline, and show it masked.
const SECRET = `argv-watch-secret-${process.pid}`;
const children: ReturnType<typeof spawn>[] = [];
const holdingSecret = (ms: number) => {
  const child = spawn(process.execPath, ["-e", `setTimeout(() => {}, ${ms})`, "--", SECRET], { stdio: "ignore" });
  children.push(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise<{ exited: Promise<void> }>((resolve) => child.once("spawn", () => resolve({ exited })));
};

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

describe("argv scan", () => {
  it("finds a process whose command line holds a secret, and masks it", async () => {
    await holdingSecret(10_000);
    const shown = processesShowing([SECRET]);
    expect(shown).toHaveLength(1);
    expect(shown[0]).toContain("<secret>");
    expect(shown[0]).not.toContain(SECRET);
  });

  it("catches a process that lived between two reads, and nothing when no process holds one", async () => {
    const stop = watchArgv([SECRET], 20);
    const { exited } = await holdingSecret(300);
    // Its end, not a fixed wait: a loaded machine can take longer than 300 ms to start node.
    await exited;
    expect(stop()).toHaveLength(1);
    expect(processesShowing([SECRET])).toEqual([]);
  });
});
