import { createRequire } from 'node:module';
import type * as Commander from 'commander';
import { ExitCode, type CliIo } from './command.js';
import { commands, type CommandEntry } from './index.js';
import { BoardError, errorMessage, faultOf, InputError } from '../core/errors.js';

// commander is CommonJS. Required, it loads in one synchronous step; imported, Node's ESM loader
// reads its ESM wrapper, then it, asynchronously, and scans its source for the names it exports:
// a few ms of every start-up (`qhil --help`, see bench/process.ts). Same module either way.
const { Command, CommanderError, Help } = createRequire(import.meta.url)('commander') as typeof Commander;

export function defaultIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    interactive: Boolean(process.stdout.isTTY) && !process.env.CI,
  };
}

const defaultHelp = new Help();

/** `qhil --help` lists a command by its entry (the command itself is not loaded); `help` as commander does. */
function listedTerm(command: Commander.Command): string {
  const entry = commands.find((candidate) => candidate.name === command.name());
  return entry ? [entry.name, entry.usage].filter(Boolean).join(' ') : defaultHelp.subcommandTerm(command);
}

/** The command `args` runs: the first word that is not a flag (`qhil help exec`: the one after `help`). */
function commandNamed(args: readonly string[]): CommandEntry | undefined {
  const words = args.filter((arg) => !arg.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return commands.find((entry) => entry.name === name);
}

/** Runs the CLI with `argv` (as process.argv: node, script, args...) and resolves to the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const program = new Command('qhil')
    .description('Hardware-in-the-loop tests for Quectel cellular boards over AT and QuecPython REPL')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError()
    .configureHelp({ subcommandTerm: listedTerm });
  try {
    // Only the command being run (or asked for help) is imported; the others are listed by name.
    const wanted = commandNamed(argv.slice(2));
    for (const entry of commands) {
      if (entry === wanted) {
        (await entry.load()).register(program, io, (code) => {
          exitCode = code;
        });
      } else {
        program.command(entry.name).description(entry.description);
      }
    }
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; any flag error is bad input.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.BadInput;
    }
    const fault = faultOf(error);
    if (fault === 'harness') {
      // Not one of qhil's own error classes: a bug in qhil. Say so, with the stack, so it gets reported.
      io.stderr(`qhil: internal error (a bug in qhil, please report it): ${errorMessage(error)}\n${(error as Error | undefined)?.stack ?? ''}\n`);
      return ExitCode.Infrastructure;
    }
    io.stderr(`qhil: ${errorMessage(error)}\n`);
    if (error instanceof InputError) return ExitCode.BadInput;
    if (error instanceof BoardError) return ExitCode.TestFailed;
    return ExitCode.Infrastructure;
  }
  return exitCode;
}
