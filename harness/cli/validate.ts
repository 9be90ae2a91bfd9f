import type { Command } from 'commander';
import { formatLocation, InputError } from '../core/errors.js';
import type { Rig, Scenario } from '../core/model.js';
import { readingIssues } from '../runner/checks.js';
import { loadRig, substituteBoardFields } from '../runner/rig.js';
import { loadScenario, ValidationError, type ValidationIssue } from '../runner/scenario.js';
import { ExitCode, type CliCommand, type CliIo } from './command.js';

/**
 * `qhil validate <scenario.yaml...> [--rig <rig.yaml>]`: the schema check on its own, before a port
 * opens. Every issue is printed as `file:line:column: message`; exit 2 when there is any.
 */
export const validateCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit) {
    program
      .command('validate')
      .description('check scenario (and rig) files without touching hardware; errors name file:line:column')
      .argument('<scenario...>', 'scenario files')
      .option('--rig <rig.yaml>', 'a rig file to check too, and that its boards have every ${board.<field>} the scenarios use')
      .action((files: string[], options: { rig?: string }) => {
        setExit(validateFiles(files, options.rig, io) ? ExitCode.Ok : ExitCode.BadInput);
      });
  },
};

/** Checks every file, printing as it goes; true when all are good. */
function validateFiles(scenarioFiles: string[], rigFile: string | undefined, io: CliIo): boolean {
  let allGood = true;
  const report = (error: unknown): void => {
    if (error instanceof ValidationError) {
      for (const issue of error.issues) io.stderr(`${formatLocation(issue.location)}: ${issue.message}\n`);
    } else if (error instanceof InputError) {
      io.stderr(`${error.message}\n`);
    } else {
      throw error;
    }
    allGood = false;
  };

  let rig: Rig | undefined;
  if (rigFile !== undefined) {
    try {
      rig = loadRig(rigFile);
      io.stdout(`ok  ${rigFile}  (${rig.boards.length} board${rig.boards.length === 1 ? '' : 's'})\n`);
    } catch (error) {
      report(error);
    }
  }

  for (const file of scenarioFiles) {
    let scenario: Scenario;
    try {
      scenario = loadScenario(file);
    } catch (error) {
      report(error);
      continue;
    }
    const fieldIssues = [...readingIssues(scenario), ...(rig ? missingBoardFields(scenario, rig) : [])];
    if (fieldIssues.length > 0) {
      report(new ValidationError(fieldIssues));
      continue;
    }
    io.stdout(`ok  ${file}  (${scenario.steps.length} step${scenario.steps.length === 1 ? '' : 's'})\n`);
  }
  return allGood;
}

/** `${board.<field>}` references some board of the rig cannot fill, at the step that uses them. */
function missingBoardFields(scenario: Scenario, rig: Rig): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const step of scenario.steps) {
    for (const board of rig.boards) {
      try {
        substituteBoardFields(step.args, board);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        issues.push({ location: step.location, message: `${step.kind}: ${error.message} (rig ${rig.file ?? rig.name})` });
      }
    }
  }
  return issues;
}
