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
    // No stdin, as `kubectl exec` without -i: Debian's bash reads ~/.bashrc when its stdin is a
    // socket (SSH_SOURCE_BASHRC) and Node's pipes are socketpairs, so a host's rc file (seen: a
    // pyenv rehash waiting on its lock) would run inside every probe and hook.
    const child = spawn(command, args, { env, detached: timeoutMs > 0, stdio: ["ignore", "pipe", "pipe"] });
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
