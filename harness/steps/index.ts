import { atStep } from './at.js';
import { compareStep } from './compare.js';
import { dialStep } from './dial.js';
import { driftStep } from './drift.js';
import { powerCycleStep } from './power-cycle.js';
import { readTimeStep } from './read-time.js';
import { replStep } from './repl.js';
import { resetStep } from './reset.js';
import type { StepDefinition } from './step.js';
import { syncStep } from './sync.js';
import { waitStep } from './wait.js';

/** Every step kind, one file each, listed in one place. The scenario schema is built from this. */
const definitions: StepDefinition[] = [dialStep, syncStep, readTimeStep, compareStep, driftStep, replStep, atStep, waitStep, powerCycleStep, resetStep];

export const stepRegistry: ReadonlyMap<string, StepDefinition> = new Map(definitions.map((step) => [step.kind, step]));
