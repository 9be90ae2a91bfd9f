import { z } from 'zod';
import { formatDurationMs } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import { commonStepOptions, positiveDurationMs } from '../core/schema.js';
import { boardOffset } from '../clock/board-offset.js';
import { formatMeasurementInterval, formatMeasurementLimit, formatMeasurementValue, formatUncertaintyParts } from '../report/format.js';
import type { StepDefinition } from './step.js';

const schema = z
  .object({
    read: z.string().default('time'),
    /** Zone of a reading that states none (the REPL's), in hours east of UTC. */
    timezone: z.number().int().min(-12).max(12).default(0),
    /** Take the zone from another reading that states one (AT+CCLK), e.g. when the RTC was set over AT. */
    'zone-from': z.string().optional(),
    /** Without a tolerance the offset is measured and recorded, not judged (e.g. before a sync). */
    tolerance: positiveDurationMs.optional(),
    /** A reading whose interval straddles the limit cannot be called in tolerance; by default that fails. */
    marginal: z.enum(['fail', 'pass']).default('fail'),
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, tolerance, 'zone-from': zoneFrom, ...rest }) => ({ ...rest, zoneFrom, toleranceMs: tolerance, timeoutMs: timeout }));

/**
 * `compare`: the board's offset from UTC, as an interval built from the reading (its one-second
 * resolution and send/receive window, or its edge's host interval) and the reference query's
 * uncertainty, against ±tolerance: `-412.0ms ±3.0ms (reading 1.0, round trip 1.5, reference 0.5)`.
 */
export const compareStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'compare',
  summary: "compare a reading with the reference clock",
  schema,
  defaultTimeoutMs: 15_000,
  describe: (args) =>
    `compare ${args.read} with the reference (${args.toleranceMs === undefined ? 'record only' : `±${formatDurationMs(args.toleranceMs)}`})`,
  consumes: (args) => [
    { name: args.read, kind: 'localtime', use: 'reads', hint: `add read-time with as: ${args.read}` },
    ...(args.zoneFrom === undefined
      ? []
      : [{ name: args.zoneFrom, kind: 'localtime' as const, use: 'takes its zone from', hint: `add read-time with via: at, as: ${args.zoneFrom}` }]),
  ],
  needsReference: () => true,
  async run(context, args) {
    const value = context.values.get(args.read);
    if (!value || value.kind !== 'localtime') {
      throw new InputError(`no time reading named "${args.read}": add a read-time step with as: ${args.read} before this step`);
    }
    let timezoneHours = args.timezone;
    if (args.zoneFrom !== undefined) {
      const source = context.values.get(args.zoneFrom);
      if (!source || source.kind !== 'localtime') {
        throw new InputError(`zone-from: no time reading named "${args.zoneFrom}": add a read-time step with as: ${args.zoneFrom} before this step`);
      }
      if (source.reading.zoneQuarterHours === undefined) {
        throw new InputError(`zone-from: reading "${args.zoneFrom}" (via ${source.reading.via}) states no zone; read it via at (AT+CCLK?)`);
      }
      timezoneHours = source.reading.zoneQuarterHours / 4;
    }
    const reference = await context.queryReference();
    const result = boardOffset(value.reading, reference, { timezoneHours, toleranceMs: args.toleranceMs });
    const m = result.measurement;
    const edge = value.reading.edge;
    // The host's share of the interval's width: the request's round trip for a one-second reading, the
    // edge's whole host interval (its exchanges and polls) for an edge-timed one. A straddle that this
    // made (half the tolerance or more: a slow link, an overloaded host) is no verdict on the board:
    // ERROR, the measurement kept.
    const roundTripMs = edge ? edge.hostHighMs - edge.hostLowMs : value.reading.hostReceiveMs - value.reading.hostSendMs;
    const tooCoarse = m.outcome === 'MARGINAL' && args.marginal === 'fail' && args.toleranceMs !== undefined && roundTripMs >= args.toleranceMs / 2;
    const verdict = tooCoarse ? 'ERROR' : m.outcome === 'FAIL' || (m.outcome === 'MARGINAL' && args.marginal === 'fail') ? 'FAIL' : 'PASS';
    const limit = args.toleranceMs === undefined ? 'no limit: recorded only' : `limit ${formatMeasurementLimit(m)}`;
    const parts = formatUncertaintyParts(m);
    return {
      outcome: verdict,
      measurements: [m],
      message:
        `board offset ${formatMeasurementValue(m)} ` +
        `(${parts === '' ? '' : `${parts}; `}within ${formatMeasurementInterval(m)}; ${limit})` +
        (m.outcome === 'UNSET' ? '' : `: ${m.outcome}`) +
        (tooCoarse
          ? `; no verdict: reading ${args.read} ${edge ? 'located its edge only' : 'took'} ${formatDurationMs(roundTripMs)} ${edge ? 'wide' : 'round trip'}, ` +
            `too coarse to judge ±${formatDurationMs(args.toleranceMs ?? 0)} (a slow link or an overloaded host)`
          : ''),
      data: {
        reference: { offsetMs: reference.offsetMs, uncertaintyMs: reference.uncertaintyMs, servers: reference.servers.map((s) => s.server) },
        zoneMinutes: result.zoneMinutes,
        precision: edge ? 'edge' : 'second',
      },
    };
  },
};
