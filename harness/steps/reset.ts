import { z } from 'zod';
import { formatDurationMs } from '../core/duration.js';
import { BoardError, InputError } from '../core/errors.js';
import { commonStepOptions, positiveDurationMs } from '../core/schema.js';
import { describeIdentity, lifecycleOf } from './board-return.js';
import type { StepContext, StepDefinition } from './step.js';

const DEFAULT_RETURN_WAIT_MS = 60_000;
/** The reset command itself: the board answers (or drops its port) at once. */
const COMMAND_TIMEOUT_MS = 5000;

const schema = z
  .object({
    /** `at`: AT+CFUN=1,1; `repl`: machine.reset(); `power`: the rig's power cycle. Default: at when the board has an AT port. */
    method: z.enum(['at', 'repl', 'power']).optional(),
    wait: positiveDurationMs.default(DEFAULT_RETURN_WAIT_MS),
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, wait, ...rest }) => ({ ...rest, waitMs: wait, timeoutMs: timeout ?? wait + 30_000 }));

/** Sends the reset; a port that closes under it is the reset working. A refusal (ERROR, a traceback) is the board's FAIL. */
async function sendReset(context: StepContext, method: 'at' | 'repl'): Promise<string> {
  try {
    if (method === 'at') {
      await context.board.atChannel().send('AT+CFUN=1,1', { timeoutMs: COMMAND_TIMEOUT_MS, signal: context.signal });
      return 'AT+CFUN=1,1 (OK)';
    }
    await context.board.replChannel().exec('import machine\nmachine.reset()', { timeoutMs: COMMAND_TIMEOUT_MS, signal: context.signal });
    return 'machine.reset()';
  } catch (error) {
    if (error instanceof BoardError) throw error;
    // The board went down before it finished answering: that is what a reset does.
    return method === 'at' ? 'AT+CFUN=1,1 (the port closed)' : 'machine.reset() (the port closed)';
  }
}

/** `reset`: restart the board (AT+CFUN=1,1, machine.reset() or the power command), wait for it, identify it again. */
export const resetStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'reset',
  summary: 'restart the board and wait until it answers again, the same board',
  schema,
  defaultTimeoutMs: DEFAULT_RETURN_WAIT_MS + 30_000,
  describe: (args) => `reset${args.method ? ` via ${args.method}` : ''} (back within ${formatDurationMs(args.waitMs)})`,
  async run(context, args) {
    const lifecycle = lifecycleOf(context, 'reset');
    const method = args.method ?? (context.board.ports.includes('at') ? 'at' : 'repl');
    const startedMs = performance.now();
    let how: string;
    if (method === 'power') {
      if (!lifecycle.canPower) throw new InputError(`reset via power: board ${context.board.id} has no power commands in its rig entry`);
      how = await lifecycle.power('cycle', context.signal);
    } else {
      how = await sendReset(context, method);
    }
    const identity = await lifecycle.awaitReturn(Math.min(args.waitMs, context.timeLeftMs()), context.signal);
    const backMs = Math.round(performance.now() - startedMs);
    return { message: `reset with ${how}; back after ${formatDurationMs(backMs)} as ${describeIdentity(identity)}`, data: { reset: how, backMs, identity }, waitedMs: backMs };
  },
};
