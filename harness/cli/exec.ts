import type { Command } from 'commander';
import { errorMessage, faultOf, InputError } from '../core/errors.js';
import type { ReplChannel } from '../channel/repl/repl.js';
import { checkPortFlag } from '../link/address.js';
import { ExitCode, timeoutFlagMs, type CliCommand, type CliIo } from './command.js';
import { execOutput, exitCodeOfFault } from './exec-output.js';

interface ExecFlags {
  repl?: string;
  at?: string;
  timeout: string;
  transcript?: string;
  raw?: boolean;
}

/**
 * `qhil exec --repl <port> <python>`: stdout to stdout, a traceback to stderr and exit 1. Control
 * characters in the board's output are shown escaped unless `raw` (exec-output.ts).
 */
export async function execRepl(
  address: string,
  code: string,
  io: CliIo,
  options: { timeoutMs: number; transcriptPath?: string; raw?: boolean },
): Promise<ExitCode> {
  const out = execOutput(io, options.raw ?? false);
  // The REPL's modules load here, so `qhil exec --at` and `--help` do without them (and --repl without the AT channel's).
  const [{ PythonError, ReplChannel }, { openLink }] = await Promise.all([import('../channel/repl/repl.js'), import('../link/open.js')]);
  let repl: ReplChannel | undefined;
  try {
    const link = await openLink(address, { transcriptPath: options.transcriptPath });
    repl = new ReplChannel(link, { transcriptPath: options.transcriptPath });
    const result = await repl.exec(code, { timeoutMs: options.timeoutMs });
    out.answer(result.stdout);
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof PythonError) {
      out.answer(error.stdout);
      out.boardError(error.traceback.endsWith('\n') ? error.traceback : `${error.traceback}\n`);
      return ExitCode.TestFailed;
    }
    const fault = faultOf(error);
    out.diagnostic(`qhil exec: ${fault === 'harness' ? 'qhil itself failed (a bug, please report it): ' : ''}${errorMessage(error)}\n`);
    return exitCodeOfFault(fault);
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
      .option('--raw', "write the board's output exactly as sent (control characters not escaped), for piping binary output")
      .action(async (command: string, flags: ExecFlags) => {
        if ((flags.repl === undefined) === (flags.at === undefined)) {
          throw new InputError('give exactly one of --repl <port> and --at <port>');
        }
        // Bad flags exit 2 before a port opens.
        if (flags.repl !== undefined) checkPortFlag('--repl', flags.repl);
        if (flags.at !== undefined) checkPortFlag('--at', flags.at);
        const options = { timeoutMs: timeoutFlagMs('--timeout', flags.timeout), transcriptPath: flags.transcript, raw: flags.raw === true };
        setExit(
          flags.repl !== undefined
            ? await execRepl(flags.repl, command, io, options)
            : await (await import('./exec-at.js')).execAt(flags.at ?? '', command, io, options),
        );
      });
  },
};
