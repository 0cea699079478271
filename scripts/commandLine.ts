import { parseArgs, ParseArgsConfig } from "util";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Config<O extends Options, P extends boolean> = { args: string[]; options: O & { help: { type: "boolean"; short: "h" } }; allowPositionals: P; strict: true };

/**
 * Every command's argument parsing: `--help` prints the usage and exits 0; an unknown option,
 * a missing value or a stray positional prints the problem and the usage and exits 2, never a
 * stack trace.
 */
export function parseCommandLine<O extends Options, P extends boolean = false>(
  usage: string,
  options: O,
  allowPositionals: P = false as P,
  argv: string[] = process.argv.slice(2),
): ReturnType<typeof parseArgs<Config<O, P>>> {
  const config: Config<O, P> = { args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals, strict: true };
  let parsed: ReturnType<typeof parseArgs<Config<O, P>>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    process.stderr.write(`${(error as Error).message.split("\n")[0]}\n\n${usage}\n`);
    process.exit(2);
  }
  if ((parsed.values as Record<string, unknown>).help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed;
}
