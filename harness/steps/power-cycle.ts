import { z } from 'zod';
import { formatDurationMs } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import { commonStepOptions, positiveDurationMs } from '../core/schema.js';
import { describeIdentity, lifecycleOf } from './board-return.js';
import type { StepDefinition } from './step.js';

const DEFAULT_RETURN_WAIT_MS = 60_000;

const schema = z
  .object({
    /** How long the board has to come back on its ports and answer after the power command. */
    wait: positiveDurationMs.default(DEFAULT_RETURN_WAIT_MS),
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, wait, ...rest }) => ({ ...rest, waitMs: wait, timeoutMs: timeout ?? wait + 60_000 }));

/**
 * `power-cycle`: the rig's power command (`power: { cycle }`, or off then on; a simulated board's own
 * switch), then waits for the board to come back by its ports' stable names and identifies it again:
 * a different board answering is ERROR.
 */
export const powerCycleStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'power-cycle',
  summary: "switch the board's power off and on, wait for it, identify it again",
  schema,
  defaultTimeoutMs: DEFAULT_RETURN_WAIT_MS + 60_000,
  describe: (args) => `power-cycle (back within ${formatDurationMs(args.waitMs)})`,
  async run(context, args) {
    const lifecycle = lifecycleOf(context, 'power-cycle');
    if (!lifecycle.canPower) throw new InputError(`power-cycle: board ${context.board.id} has no power commands: add power: { cycle: [...] } to its rig entry`);
    const startedMs = performance.now();
    const ran = await lifecycle.power('cycle', context.signal);
    const identity = await lifecycle.awaitReturn(Math.min(args.waitMs, context.timeLeftMs()), context.signal);
    const backMs = Math.round(performance.now() - startedMs);
    return {
      message: `power cycled with ${ran}; back after ${formatDurationMs(backMs)} as ${describeIdentity(identity)}`,
      data: { power: ran, backMs, identity },
      waitedMs: backMs,
    };
  },
};
