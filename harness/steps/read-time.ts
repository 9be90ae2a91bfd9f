import { z } from 'zod';
import { commonStepOptions, via } from '../core/schema.js';
import type { StepDefinition } from './step.js';

const schema = z
  .object({
    via: via.default('repl'),
    as: z.string().regex(/^[A-Za-z_][\w-]*$/, 'a name: letters, digits, _ or -').default('time'),
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout }));

/** `read-time`: read the board's local time (utime.localtime() or AT+CCLK?) with the host times around it. */
export const readTimeStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'read-time',
  summary: "read the board's local time and keep it under a name",
  schema,
  defaultTimeoutMs: 10_000,
  describe: (args) => `read the time via ${args.via} as ${args.as}`,
  produces: (args) => [{ name: args.as, kind: 'localtime' }],
  async run(context, args) {
    const reading = await context.board.driver(args.via).readLocaltime({ timeoutMs: context.timeLeftMs(), signal: context.signal });
    context.values.set(args.as, { kind: 'localtime', reading });
    const [y, mo, d, h, mi, s] = reading.localtime.map((n) => String(n).padStart(2, '0'));
    return {
      message: `board time ${y}-${mo}-${d} ${h}:${mi}:${s} (${reading.hostReceiveMs - reading.hostSendMs} ms round trip)`,
      data: { name: args.as, ...reading },
    };
  },
};
