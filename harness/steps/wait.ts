import { z } from 'zod';
import { formatDurationMs } from '../core/duration.js';
import { durationMs } from '../core/schema.js';
import { sleep } from '../core/sleep.js';
import type { StepDefinition } from './step.js';

const schema = z
  .object({
    for: durationMs.refine((ms) => ms >= 0, 'must not be negative'),
    retries: z.number().int().min(0).max(0).default(0),
  })
  .strict()
  .transform((args) => ({ forMs: args.for, retries: args.retries, timeoutMs: args.for + 1000 }));

/** `wait: { for: 2s }`: lets time pass on the board (e.g. to see drift between two readings). */
export const waitStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'wait',
  summary: 'pause for a duration',
  schema,
  defaultTimeoutMs: 60_000,
  describe: (args) => `wait ${formatDurationMs(args.forMs)}`,
  minimumDurationMs: (args) => args.forMs,
  async run(context, args) {
    // The runner ends the step when its signal aborts; the sleep just stops early.
    await sleep(args.forMs, context.signal);
    return { waitedMs: args.forMs };
  },
};
