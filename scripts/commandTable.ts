import { parseArgs, ParseArgsConfig } from "util";
import { parseCommandLine } from "./commandLine";

type ParseOptions = NonNullable<ParseArgsConfig["options"]>;
type ParseOption = ParseOptions[string];

/** An option as a command declares it: parseArgs' own fields, and the line its usage shows. */
export type OptionSpec = ParseOption & { help: string; value?: string };
export type OptionSpecs = Record<string, OptionSpec>;

type Parsed<O extends OptionSpecs> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>["values"];

/** One subcommand: what it takes, what it says about itself, and what it does. */
export interface CommandSpec<O extends OptionSpecs> {
  summary: string;
  /** The positional arguments after the command's name, as the usage shows them ("ID", "list | verify ID"). */
  args?: string;
  /** How many positional arguments it takes. */
  positionals: { min: number; max: number };
  options: O;
  /** Runs the command; the exit code. */
  run(values: Parsed<O>, positionals: string[]): Promise<number>;
  /** A group's commands (`ops backup list`): each with its own options; the group itself takes none. */
  subcommands?: Record<string, CommandSpec<OptionSpecs>>;
}

/** A command, typed by its own options (the table holds commands of different ones). */
export function command<O extends OptionSpecs>(spec: CommandSpec<O>): CommandSpec<OptionSpecs> {
  return spec as unknown as CommandSpec<OptionSpecs>;
}

/** A command made of commands (`ops backup list`): the rest of the line goes to the one it names. */
export function commandGroup(summary: string, subcommands: Record<string, CommandSpec<OptionSpecs>>): CommandSpec<OptionSpecs> {
  return { summary, args: `${Object.keys(subcommands).join(" | ")} ...`, positionals: { min: 1, max: Infinity }, options: {}, run: async () => 2, subcommands };
}

function optionLines(options: OptionSpecs): string[] {
  const rows: Array<[string, string]> = Object.entries(options).map(([name, o]) => [`--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`, o.help]);
  rows.push(["-h, --help", "this text"]);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`);
}

/** The usage of PROGRAM's command NAME: its synopsis, what it does, every option it takes and nothing else. */
export function commandUsage(program: string, name: string, spec: CommandSpec<OptionSpecs>, epilog = ""): string {
  const flags = Object.keys(spec.options).length > 0 ? " [options]" : "";
  return [`usage: ${program} ${name}${spec.args ? ` ${spec.args}` : ""}${flags}`, "", spec.summary, "", "options:", ...optionLines(spec.options), ...(epilog ? ["", epilog] : [])].join("\n");
}

/** The program's usage: every command with its summary. */
export function programUsage(program: string, commands: Record<string, CommandSpec<OptionSpecs>>, epilog = ""): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2;
  const lines = Object.entries(commands).map(([name, spec]) => `  ${name.padEnd(width)}${spec.summary}`);
  return [`usage: ${program} <command> [options]`, "", "commands:", ...lines, "", `${program} <command> --help: that command's arguments and options`, ...(epilog ? ["", epilog] : [])].join("\n");
}

/**
 * Runs the command ARGV names. Each command parses only its own options: one it does not take,
 * a missing value or a wrong number of arguments prints the problem and that command's usage
 * and exits 2; `--help` after a command prints its usage, before one the program's.
 */
export async function runCommandTable(program: string, commands: Record<string, CommandSpec<OptionSpecs>>, argv: string[], epilog = ""): Promise<number> {
  const usage = programUsage(program, commands, epilog);
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`no command given\n\n${usage}\n`);
    return 2;
  }
  // An option before any command: --help, or refused as parseArgs refuses it.
  if (name.startsWith("-")) parseCommandLine(usage, {}, false, [name]);
  const spec = commands[name];
  if (!spec) {
    process.stderr.write(`unknown command or extra argument: ${argv.join(" ")}\n\n${usage}\n`);
    return 2;
  }
  if (spec.subcommands) return runCommandTable(`${program} ${name}`, spec.subcommands, rest, epilog);
  const ownUsage = commandUsage(program, name, spec, epilog);
  const parseOptions = Object.fromEntries(Object.entries(spec.options).map(([key, { help: _help, value: _value, ...option }]) => [key, option]));
  const { values, positionals } = parseCommandLine(ownUsage, parseOptions, true, rest);
  if (positionals.length < spec.positionals.min || positionals.length > spec.positionals.max) {
    const problem = positionals.length < spec.positionals.min ? `${name} needs ${spec.args ?? "an argument"}` : `extra argument: ${positionals.slice(spec.positionals.max).join(" ")}`;
    process.stderr.write(`${problem}\n\n${ownUsage}\n`);
    return 2;
  }
  return spec.run(values as Parsed<OptionSpecs>, positionals);
}
