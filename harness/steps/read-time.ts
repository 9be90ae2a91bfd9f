import { z } from 'zod';
import { commonStepOptions, positiveDurationMs, via } from '../core/schema.js';
import type { LocaltimeReading } from '../core/model.js';
import type { StepDefinition } from './step.js';

const schema = z
  .object({
    via: via.default('repl'),
    as: z.string().regex(/^[A-Za-z_][\w-]*$/, 'a name: letters, digits, _ or -').default('time'),
    /** `second`: which second the board was in; `edge`: also the host instant that second began, to a few ms. */
    precision: z.enum(['second', 'edge']).default('second'),
    /**
     * Edge over the REPL: the widest board loop at the edge kept (default 6ms, ±3.5 ms of reading);
     * a wider one tries the next second, which costs a second. A scenario whose tolerance is a second
     * or more can keep a wider one and save that second.
     */
    'widest-loop': positiveDurationMs.optional(),
    ...commonStepOptions,
  })
  .strict()
  .superRefine((args, ctx) => {
    if (args['widest-loop'] !== undefined && (args.precision !== 'edge' || args.via !== 'repl')) {
      ctx.addIssue({ code: 'custom', path: ['widest-loop'], message: 'only for precision: edge via repl (the board loop that times the edge)' });
    }
  })
  .transform(({ timeout, 'widest-loop': widestLoopMs, ...rest }) => ({ ...rest, timeoutMs: timeout, widestLoopMs }));

/** `read-time`: read the board's local time (utime.localtime() or AT+CCLK?) with the host times around it. */
export const readTimeStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'read-time',
  summary: "read the board's local time and keep it under a name",
  schema,
  defaultTimeoutMs: 10_000,
  describe: (args) => `read the time via ${args.via}${args.precision === 'edge' ? ' to the edge of its second' : ''} as ${args.as}`,
  produces: (args) => [{ name: args.as, kind: 'localtime' }],
  async run(context, args) {
    const reading = await context.board
      .driver(args.via)
      .readLocaltime({
        timeoutMs: context.timeLeftMs(),
        signal: context.signal,
        precision: args.precision,
        ...(args.widestLoopMs !== undefined && { widestLoopMs: args.widestLoopMs }),
      });
    context.values.set(args.as, { kind: 'localtime', reading });
    const [y, mo, d, h, mi, s] = reading.localtime.map((n) => String(n).padStart(2, '0'));
    return {
      message: `board time ${y}-${mo}-${d} ${h}:${mi}:${s} (${edgeText(reading)})`,
      // The edge's evidence (the board loop and tick exchanges, or every AT poll) goes with it.
      data: { name: args.as, ...reading },
    };
  },
};

/** `began 00:30:05.412±0.003 host time` for an edge-timed reading, else the round trip. */
function edgeText(reading: LocaltimeReading): string {
  const edge = reading.edge;
  if (!edge) return `${Math.round(reading.hostReceiveMs - reading.hostSendMs)} ms round trip`;
  const middleMs = (edge.hostLowMs + edge.hostHighMs) / 2;
  const halfMs = (edge.hostHighMs - edge.hostLowMs) / 2;
  const clock = new Date(Math.floor(middleMs)).toISOString().slice(11, 19);
  const fraction = ((middleMs / 1000) % 1).toFixed(3).slice(1);
  return `second began at host ${clock}${fraction} ±${halfMs.toFixed(1)} ms: reading ±${edge.readingMs.toFixed(1)}, round trip ±${edge.roundTripMs.toFixed(1)}`;
}
