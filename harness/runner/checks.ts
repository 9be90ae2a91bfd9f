import { formatDurationMs } from '../core/duration.js';
import type { Scenario, StepSpec } from '../core/model.js';
import { stepRegistry } from '../steps/index.js';
import type { CommonStepOptions, StepDefinition, StepValue } from '../steps/step.js';
import type { ValidationIssue } from './yaml-source.js';

/**
 * Checks across steps that no single step's schema can make, from what each step definition declares
 * (the values it produces and consumes, its minimum duration), never from its kind's name:
 *  - every value a step consumes was produced by an earlier step, and is of the kind it needs;
 *  - no two steps produce the same name (the second would silently replace the first);
 *  - the scenario's waits alone fit in its timeout (a `wait: { for: 3s }` in a `timeout: 1s` scenario).
 * Run by the preflight (`qhil validate` and `qhil run`), before any port opens.
 */

/**
 * A step's arguments as its declarations may see them, or undefined when they cannot be known yet: a
 * step whose arguments use `${board.<field>}`, when no board is given.
 */
export type ArgsOf = (step: StepSpec, definition: StepDefinition) => CommonStepOptions | undefined;

export interface ScenarioCheckOptions {
  registry?: ReadonlyMap<string, StepDefinition>;
  argsOf?: ArgsOf;
}

/** Arguments that need no board: those of every step that uses no `${board.<field>}`. */
export const boardFreeArgs: ArgsOf = (step) => (step.raw ? undefined : stepArgs(step.args));

/** Arguments a definition's own schema produced (at load, or per board), as its declarations take them. */
export function stepArgs(args: Record<string, unknown>): CommonStepOptions {
  return args as unknown as CommonStepOptions;
}

function kindName(kind: StepValue['kind']): string {
  return kind === 'localtime' ? 'a time reading' : 'text';
}

export function scenarioIssues(scenario: Scenario, options: ScenarioCheckOptions = {}): ValidationIssue[] {
  const registry = options.registry ?? stepRegistry;
  const argsOf = options.argsOf ?? boardFreeArgs;
  const issues: ValidationIssue[] = [];
  const produced = new Map<string, { kind: StepValue['kind']; step: StepSpec }>();
  // After a step whose arguments are not known yet, a missing name may be one it produces.
  let unknownProducer = false;
  let minimumMs = 0;
  let waitsReported = false;
  for (const step of scenario.steps) {
    const definition = registry.get(step.kind);
    // An unknown kind is the loader's to report.
    if (!definition) continue;
    const args = argsOf(step, definition);
    if (args === undefined) {
      unknownProducer = true;
      continue;
    }
    for (const need of definition.consumes?.(args) ?? []) {
      const source = produced.get(need.name);
      if (!source) {
        if (!unknownProducer) {
          issues.push({ location: step.location, message: `${step.kind} ${need.use} "${need.name}", but no earlier step sets it (${need.hint})` });
        }
      } else if (source.kind !== need.kind) {
        issues.push({
          location: step.location,
          message:
            `${step.kind} ${need.use} "${need.name}", which is ${kindName(source.kind)} (set by ${source.step.kind} at line ` +
            `${source.step.location.line}), not ${kindName(need.kind)} (${need.hint})`,
        });
      }
    }
    for (const value of definition.produces?.(args) ?? []) {
      const earlier = produced.get(value.name);
      if (earlier) {
        issues.push({
          location: step.location,
          message:
            `${step.kind} sets "${value.name}", which ${earlier.step.kind} at line ${earlier.step.location.line} already set: ` +
            'give each value its own name with as:',
        });
      } else {
        produced.set(value.name, { kind: value.kind, step });
      }
    }
    minimumMs += definition.minimumDurationMs?.(args) ?? 0;
    if (!waitsReported && minimumMs > scenario.timeoutMs) {
      waitsReported = true;
      issues.push({
        location: step.location,
        message:
          `${step.kind}: the scenario's waits alone add up to ${formatDurationMs(minimumMs)} by this step, more than its ` +
          `timeout of ${formatDurationMs(scenario.timeoutMs)}: raise the scenario's timeout or shorten the waits`,
      });
    }
  }
  return issues;
}
