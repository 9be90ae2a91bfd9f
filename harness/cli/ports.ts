import type { Command } from 'commander';
import type { CliCommand, CliIo } from './command.js';

/** `qhil ports`: serial ports, Quectel boards recognised (VID 2C7C) with each interface's role; serialport loads when it runs. */
export const portsCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit) {
    program
      .command('ports')
      .description('list serial ports; Quectel boards (USB VID 2C7C) with the role of each interface (AT, REPL)')
      .option('--all', 'also list ports with no USB device behind them')
      .option('--json', 'print JSON')
      .action(async (flags: { all?: boolean; json?: boolean }) => {
        setExit(await (await import('./ports-action.js')).listPorts(flags, io));
      });
  },
};
