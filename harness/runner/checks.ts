import type { ValidationIssue } from './yaml-source.js';
import type { Scenario } from '../core/model.js';

/**
 * Checks across steps that no single step's schema can make: every `compare` reads a name an
 * earlier `read-time` set. Run by `qhil validate` and before any port opens in `qhil run`.
 */
export function readingIssues(scenario: Scenario): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const named = new Set<string>();
  for (const step of scenario.steps) {
    if (step.kind === 'read-time') named.add(String(step.args.as ?? 'time'));
    if (step.kind === 'compare') {
      const read = String(step.args.read ?? 'time');
      if (!named.has(read)) {
        issues.push({
          location: step.location,
          message: `compare reads "${read}", but no earlier read-time step sets it (add read-time with as: ${read})`,
        });
      }
      const zoneFrom = step.args.zoneFrom;
      if (typeof zoneFrom === 'string' && !named.has(zoneFrom)) {
        issues.push({
          location: step.location,
          message: `compare takes its zone from "${zoneFrom}", but no earlier read-time step sets it (add read-time with via: at, as: ${zoneFrom})`,
        });
      }
    }
  }
  return issues;
}
