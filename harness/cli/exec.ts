import type { Command } from 'commander';
import { InputError } from '../core/errors.js';
import type { CliCommand, CliIo } from './command.js';

interface ExecFlags {
  repl?: string;
  at?: string;
  timeout: string;
  transcript?: string;
  raw?: boolean;
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
        // Bad flags exit 2 before a port opens. The link and channel modules load here, not for --help;
        // --repl loads no AT channel (exec-at.ts) and --at no REPL channel (exec-repl.ts).
        const [{ checkPortFlag }, { timeoutFlagMs }] = await Promise.all([import('../link/address.js'), import('./flags.js')]);
        if (flags.repl !== undefined) checkPortFlag('--repl', flags.repl);
        if (flags.at !== undefined) checkPortFlag('--at', flags.at);
        const options = { timeoutMs: timeoutFlagMs('--timeout', flags.timeout), transcriptPath: flags.transcript, raw: flags.raw === true };
        setExit(
          flags.repl !== undefined
            ? await (await import('./exec-repl.js')).execRepl(flags.repl, command, io, options)
            : await (await import('./exec-at.js')).execAt(flags.at ?? '', command, io, options),
        );
      });
  },
};
