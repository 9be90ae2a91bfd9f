import type { Command } from 'commander';
import { ExitCode, type CliCommand, type CliIo } from './command.js';

/**
 * `qhil validate <scenario.yaml...> [--rig <rig.yaml>] [--reference <server>...]`: what `qhil run`
 * checks before a port opens, on its own: the same loaders, then the same preflight. Every problem is
 * printed as `file:line:column: message`; exit 2 when there is any.
 *
 * Without --rig the boards are not known, so the checks that need them (ports, profiles,
 * `${board.<field>}`, whether a reference will be there) are skipped: `qhil run` makes them with its boards.
 */
export const validateCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit) {
    program
      .command('validate')
      .description('check scenario (and rig) files as `qhil run` does before a port opens; errors name file:line:column')
      .argument('<scenario...>', 'scenario files')
      .option('--rig <rig.yaml>', 'the rig to check the scenarios against: its boards, ports, profiles and ${board.<field>} values')
      .option('--reference <host[:port]>', 'reference NTP server, as qhil run takes it (repeatable)', (value: string, previous: string[]) => [...previous, value], [])
      .action(async (files: string[], options: { rig?: string; reference: string[] }) => {
        // The loaders (YAML, schemas) and the preflight load when it runs, not for its --help.
        const { validateFiles } = await import('./validate-action.js');
        setExit(validateFiles(files, options, io) ? ExitCode.Ok : ExitCode.BadInput);
      });
  },
};
