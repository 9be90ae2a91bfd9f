import type { Command } from 'commander';
import { DEFAULT_SAMPLES, DEFAULT_TIMEOUT_MS } from '../clock/reference.js';
import { InputError } from '../core/errors.js';
import type { ReferenceSpec, Rig, Scenario } from '../core/model.js';
import { capProblems, preflight } from '../runner/preflight.js';
import { loadRig } from '../runner/rig.js';
import { loadScenario, ValidationError } from '../runner/scenario.js';
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
      .action((files: string[], options: { rig?: string; reference: string[] }) => {
        setExit(validateFiles(files, options, io) ? ExitCode.Ok : ExitCode.BadInput);
      });
  },
};

/** Checks every file, printing as it goes; true when all are good. */
function validateFiles(scenarioFiles: string[], options: { rig?: string; reference: string[] }, io: CliIo): boolean {
  let allGood = true;
  const printProblems = (lines: string[]): void => {
    for (const line of capProblems(lines)) io.stderr(`${line}\n`);
    allGood = false;
  };
  const report = (error: unknown): void => {
    // A ValidationError's lines are capped already, ending in the true "... and N more": print them as they are.
    if (error instanceof ValidationError) {
      for (const line of error.lines) io.stderr(`${line}\n`);
      allGood = false;
    }
    else if (error instanceof InputError) printProblems([error.message]);
    else throw error;
  };

  let rig: Rig | undefined;
  if (options.rig !== undefined) {
    try {
      rig = loadRig(options.rig);
    } catch (error) {
      report(error);
    }
  }

  const loaded: Scenario[] = [];
  for (const file of scenarioFiles) {
    try {
      loaded.push(loadScenario(file));
    } catch (error) {
      report(error);
    }
  }

  const reference: ReferenceSpec | undefined =
    options.reference.length > 0 ? { servers: options.reference, samples: DEFAULT_SAMPLES, timeoutMs: DEFAULT_TIMEOUT_MS, keys: [] } : undefined;
  // The same preflight as `qhil run`; without a (loadable) rig, the boards are unknown.
  const found = preflight({ scenarios: loaded, boards: rig?.boards, rigReference: rig?.reference, reference });
  if (found.general.length > 0) printProblems(found.general);
  else if (rig && options.rig !== undefined) io.stdout(`ok  ${options.rig}  (${rig.boards.length} board${rig.boards.length === 1 ? '' : 's'})\n`);
  for (const { scenario, problems } of found.scenarios) {
    if (problems.length > 0) printProblems(problems);
    else io.stdout(`ok  ${scenario.file}  (${scenario.steps.length} step${scenario.steps.length === 1 ? '' : 's'})\n`);
  }
  return allGood;
}
