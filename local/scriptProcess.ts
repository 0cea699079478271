import { spawn } from "child_process";

export interface ScriptResult {
  code: number;
  output: string;
}

/**
 * Runs a command to its end, collecting stdout and stderr together (and passing each chunk on as
 * it comes). With TIMEOUT_MS, the command runs in a process group of its own, which is killed
 * (SIGKILL) when the time is up, as the kubelet ends a probe or hook that overruns.
 */
export function runCollecting(command: string, args: string[], env: NodeJS.ProcessEnv, onOutput?: (chunk: string) => void, timeoutMs = 0): Promise<ScriptResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, detached: timeoutMs > 0 });
    let output = "";
    const take = (d: Buffer) => {
      output += d;
      onOutput?.(d.toString());
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            try {
              process.kill(-child.pid!, "SIGKILL");
            } catch {
              /* already gone */
            }
          }, timeoutMs)
        : undefined;
    // "close", not "exit": the process can exit before its last output has been read.
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}
