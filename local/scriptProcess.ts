import { spawn } from "child_process";

export interface ScriptResult {
  code: number;
  output: string;
}

/** Runs a command to its end, collecting stdout and stderr together (and passing each chunk on as it comes). */
export function runCollecting(command: string, args: string[], env: NodeJS.ProcessEnv, onOutput?: (chunk: string) => void): Promise<ScriptResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env });
    let output = "";
    const take = (d: Buffer) => {
      output += d;
      onOutput?.(d.toString());
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    // "close", not "exit": the process can exit before its last output has been read.
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}
