import type { Command } from 'commander';
import { BoardError, errorMessage, InputError } from '../core/errors.js';
import { PythonError, ReplChannel } from '../channel/repl/repl.js';
import { openLink } from '../link/open.js';
import { durationFlagMs, ExitCode, type CliCommand, type CliIo } from './command.js';
import { execAt } from './exec-at.js';

interface ExecFlags {
  repl?: string;
  at?: string;
  timeout: string;
  transcript?: string;
}

/** `qhil exec --repl <port> <python>`: stdout to stdout, a traceback to stderr and exit 1. */
export async function execRepl(address: string, code: string, io: CliIo, options: { timeoutMs: number; transcriptPath?: string }): Promise<ExitCode> {
  let repl: ReplChannel | undefined;
  try {
    const link = await openLink(address, { transcriptPath: options.transcriptPath });
    repl = new ReplChannel(link, { transcriptPath: options.transcriptPath });
    const result = await repl.exec(code, { timeoutMs: options.timeoutMs });
    io.stdout(result.stdout);
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof PythonError) {
      io.stdout(error.stdout);
      io.stderr(error.traceback.endsWith('\n') ? error.traceback : `${error.traceback}\n`);
      return ExitCode.TestFailed;
    }
    io.stderr(`qhil exec: ${errorMessage(error)}\n`);
    // A board that does not answer in time is the board's failure (1), as with --at; a port that
    // cannot be opened or vanishes is the rig's (3).
    if (error instanceof InputError) return ExitCode.BadInput;
    return error instanceof BoardError ? ExitCode.TestFailed : ExitCode.Infrastructure;
  } finally {
    await repl?.close().catch(() => undefined);
  }
}

export const execCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit) {
    program
      .command('exec')
      .description('send one command to a board: Python over the REPL, or an AT command')
      .argument('<command>', 'Python code (with --repl) or an AT command line (with --at)')
      .option('--repl <port>', 'QuecPython REPL port: device path or tcp://host:port')
      .option('--at <port>', 'AT port: device path or tcp://host:port')
      .option('--timeout <duration>', 'deadline for the answer', '30s')
      .option('--transcript <file>', 'record every byte both ways to this file')
      .action(async (command: string, flags: ExecFlags) => {
        if ((flags.repl === undefined) === (flags.at === undefined)) {
          throw new InputError('give exactly one of --repl <port> and --at <port>');
        }
        const options = { timeoutMs: durationFlagMs('--timeout', flags.timeout), transcriptPath: flags.transcript };
        setExit(flags.repl !== undefined ? await execRepl(flags.repl, command, io, options) : await execAt(flags.at ?? '', command, io, options));
      });
  },
};
