import type { StepDefinition } from './step.js';
import { waitStep } from './wait.js';

/** Every step kind, one file each, listed in one place. The scenario schema is built from this. */
const definitions: StepDefinition[] = [waitStep as unknown as StepDefinition];

export const stepRegistry: ReadonlyMap<string, StepDefinition> = new Map(definitions.map((step) => [step.kind, step]));
