/** What `qhil validate` does (validate.ts declares it): the same loaders and preflight as `qhil run`. */
import { DEFAULT_SAMPLES, DEFAULT_TIMEOUT_MS } from '../clock/reference.js';
import { InputError } from '../core/errors.js';
import type { ReferenceSpec, Rig, Scenario } from '../core/model.js';
import { capProblems, preflight } from '../runner/preflight.js';
import { loadRig } from '../runner/rig.js';
import { loadScenario, ValidationError } from '../runner/scenario.js';
import type { CliIo } from './command.js';

/** Checks every file, printing as it goes; true when all are good. */
export function validateFiles(scenarioFiles: string[], options: { rig?: string; reference: string[] }, io: CliIo): boolean {
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
