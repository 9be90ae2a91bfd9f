import { errorMessage, formatLocation, InputError } from '../core/errors.js';
import type { BoardSpec, ReferenceSpec, Scenario, StepSpec } from '../core/model.js';
import { resolveBoardProfile } from '../sim/board.js';
import { stepRegistry } from '../steps/index.js';
import type { StepDefinition } from '../steps/step.js';
import { readingIssues } from './checks.js';
import { portAddressProblem, substituteBoardFields } from './rig.js';

/**
 * The one preflight: everything that can be checked before a port opens. `qhil validate` and
 * `qhil run` both call it, so what validate accepts, run accepts, and bad input exits 2 having run nothing.
 */

export interface PreflightInput {
  scenarios: Scenario[];
  boards: BoardSpec[];
  /** Reference servers given on the command line. */
  reference?: ReferenceSpec;
  /** The rig's reference. */
  rigReference?: ReferenceSpec;
  /** Only scenarios carrying one of these tags run (all when empty). */
  tags?: string[];
}

/** The step's arguments on `board`: `${board.<field>}` filled in and checked again by the step's schema. */
export function resolveStepArgs(step: StepSpec, definition: StepDefinition, board: BoardSpec): Record<string, unknown> {
  if (!step.raw) return step.args;
  const where = formatLocation(step.location);
  let filled: unknown;
  try {
    filled = substituteBoardFields(step.raw, board);
  } catch (error) {
    throw new InputError(`${where}: ${step.kind}: ${errorMessage(error)}`);
  }
  const parsed = definition.schema.safeParse(filled);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${[step.kind, ...issue.path.map(String)].join('.')}: ${issue.message}`);
    throw new InputError(`${where}: on board ${board.id}: ${problems.join('; ')}`);
  }
  return parsed.data as unknown as Record<string, unknown>;
}

/** The scenarios a tag filter keeps; a filter that keeps none is a typo, not a green run. */
export function selectScenarios(scenarios: Scenario[], tags: string[]): Scenario[] {
  if (tags.length === 0) return scenarios;
  const kept = scenarios.filter((scenario) => scenario.tags.some((tag) => tags.includes(tag)));
  if (kept.length === 0) {
    const known = [...new Set(scenarios.flatMap((scenario) => scenario.tags))].sort();
    throw new InputError(`no scenario has the tag ${tags.map((t) => `"${t}"`).join(' or ')}; the scenarios' tags are: ${known.join(', ') || '(none)'}`);
  }
  return kept;
}

/**
 * Checks everything that can be checked before a port opens, so bad input exits 2 having run nothing:
 * boards and their ports and profiles, every compare has a reading and a reference, and every
 * `${board.<field>}` can be filled on every board.
 */
export function checkRunnable(options: PreflightInput): void {
  const problems: string[] = [];
  if (options.boards.length === 0) problems.push('no boards: give --rig, --board sim, or --repl/--at ports');
  const scenarios = selectScenarios(options.scenarios, options.tags ?? []);
  for (const board of options.boards) {
    for (const via of ['repl', 'at'] as const) {
      const address = board[via];
      const problem = address === undefined ? undefined : portAddressProblem(address);
      if (problem) problems.push(`board ${board.id}: ${via}: ${problem}`);
    }
    if (board.sim) {
      try {
        resolveBoardProfile(board.sim.profile);
      } catch (error) {
        problems.push(`board ${board.id}: ${errorMessage(error)}`);
      }
    }
  }
  for (const scenario of scenarios) {
    for (const issue of readingIssues(scenario)) problems.push(`${formatLocation(issue.location)}: ${issue.message}`);
    const compare = scenario.steps.find((step) => step.kind === 'compare');
    if (compare && !options.reference && !scenario.reference && !options.rigReference) {
      problems.push(
        `${formatLocation(compare.location)}: compare needs a reference clock: give --reference <server>, or reference: in the scenario or rig file`,
      );
    }
    for (const step of scenario.steps) {
      const definition = stepRegistry.get(step.kind);
      if (!definition) {
        problems.push(`${formatLocation(step.location)}: unknown step kind "${step.kind}"`);
        continue;
      }
      for (const board of options.boards) {
        try {
          resolveStepArgs(step, definition, board);
        } catch (error) {
          problems.push(errorMessage(error));
        }
      }
    }
  }
  if (problems.length > 0) throw new InputError([...new Set(problems)].join('\n'));
}

