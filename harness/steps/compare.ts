import { z } from 'zod';
import { formatDurationMs } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import type { LocaltimeReading, Measurement } from '../core/model.js';
import { commonStepOptions, positiveDurationMs } from '../core/schema.js';
import { boardOffset, judge, partsSummingTo } from '../clock/board-offset.js';
import { formatMeasurementInterval, formatMeasurementLimit, formatMeasurementValue, formatUncertaintyParts } from '../report/format.js';
import type { StepContext, StepDefinition } from './step.js';

const readingName = z.string().min(1);

const schema = z
  .object({
    /** One reading, or several (`[s1, s2, s3]`): each judged, and their mean recorded and judged too. */
    read: z.union([readingName, z.array(readingName).min(1).max(20)]).default('time'),
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
  .transform(({ timeout, tolerance, 'zone-from': zoneFrom, read, ...rest }) => ({
    ...rest,
    reads: typeof read === 'string' ? [read] : read,
    zoneFrom,
    toleranceMs: tolerance,
    timeoutMs: timeout,
  }));
type Args = z.output<typeof schema>;

function readingNamed(context: StepContext, name: string, what: string): LocaltimeReading {
  const value = context.values.get(name);
  if (!value || value.kind !== 'localtime') throw new InputError(`${what}no time reading named "${name}": add a read-time step with as: ${name} before this step`);
  return value.reading;
}

/**
 * The host's share of a reading's width: the request's round trip for a one-second reading, the
 * edge's whole host interval (its exchanges or polls) for an edge-timed one.
 */
function hostWidthMs(reading: LocaltimeReading): number {
  return reading.edge ? reading.edge.hostHighMs - reading.edge.hostLowMs : reading.hostReceiveMs - reading.hostSendMs;
}

/** The mean of several offsets: the mean of their bounds bounds the mean of the true offsets. */
function meanOffset(measurements: Measurement[], toleranceMs: number | undefined): Measurement {
  const mean = (pick: (m: Measurement) => number): number => measurements.reduce((sum, m) => sum + pick(m), 0) / measurements.length;
  const low = mean((m) => m.low);
  const high = mean((m) => m.high);
  const uncertainty = Math.round(((high - low) / 2) * 10_000) / 10_000;
  const names = new Set(measurements.flatMap((m) => Object.keys(m.uncertaintyParts ?? {})));
  const parts = Object.fromEntries([...names].map((name) => [name, mean((m) => m.uncertaintyParts?.[name] ?? 0)]));
  const limitMs = toleranceMs ?? Number.POSITIVE_INFINITY;
  return {
    name: `mean board clock offset from UTC (${measurements.length} readings)`,
    value: Math.round(((low + high) / 2) * 10_000) / 10_000,
    unit: 'ms',
    low,
    high,
    uncertainty,
    uncertaintyParts: partsSummingTo(uncertainty, parts),
    limitLow: -limitMs,
    limitHigh: limitMs,
    outcome: toleranceMs === undefined ? 'UNSET' : judge(low, high, toleranceMs),
    explanation: `the mean of ${measurements.length} offsets, its interval the mean of theirs`,
  };
}

function describeOffset(m: Measurement): string {
  const parts = formatUncertaintyParts(m);
  return `${formatMeasurementValue(m)} (${parts === '' ? '' : `${parts}; `}within ${formatMeasurementInterval(m)}`;
}

/**
 * `compare`: the board's offset from UTC, as an interval built from the reading (its one-second
 * resolution and send/receive window, or its edge's host interval) and the reference query's
 * uncertainty, against ±tolerance: `-412.0ms ±3.0ms (reading 1.0, round trip 1.5, reference 0.5)`.
 */
export const compareStep: StepDefinition<Args> = {
  kind: 'compare',
  summary: "compare a reading with the reference clock",
  schema,
  defaultTimeoutMs: 15_000,
  describe: (args) =>
    `compare ${args.reads.join(', ')} with the reference (${args.toleranceMs === undefined ? 'record only' : `±${formatDurationMs(args.toleranceMs)}`})`,
  consumes: (args) => [
    ...args.reads.map((name) => ({ name, kind: 'localtime' as const, use: 'reads', hint: `add read-time with as: ${name}` })),
    ...(args.zoneFrom === undefined
      ? []
      : [{ name: args.zoneFrom, kind: 'localtime' as const, use: 'takes its zone from', hint: `add read-time with via: at, as: ${args.zoneFrom}` }]),
  ],
  needsReference: () => true,
  async run(context, args) {
    const readings = args.reads.map((name) => readingNamed(context, name, ''));
    let timezoneHours = args.timezone;
    if (args.zoneFrom !== undefined) {
      const source = readingNamed(context, args.zoneFrom, 'zone-from: ');
      if (source.zoneQuarterHours === undefined) {
        throw new InputError(`zone-from: reading "${args.zoneFrom}" (via ${source.via}) states no zone; read it via at (AT+CCLK?)`);
      }
      timezoneHours = source.zoneQuarterHours / 4;
    }
    const reference = await context.queryReference();
    const offsets = readings.map((reading, index) => {
      const { measurement, zoneMinutes } = boardOffset(reading, reference, { timezoneHours, toleranceMs: args.toleranceMs });
      const name = args.reads.length > 1 ? `${measurement.name} (${args.reads[index] ?? ''})` : measurement.name;
      return { measurement: { ...measurement, name }, zoneMinutes, reading };
    });
    const measurements = offsets.map((o) => o.measurement);
    const mean = measurements.length > 1 ? meanOffset(measurements, args.toleranceMs) : undefined;
    const failing = (m: Measurement): boolean => m.outcome === 'FAIL' || (m.outcome === 'MARGINAL' && args.marginal === 'fail');
    // A straddle the host's own timing made (its share of the width half the tolerance or more: a slow
    // link, an overloaded host) is no verdict on the board: ERROR, the measurement kept.
    const coarse = offsets.filter(
      (o) => o.measurement.outcome === 'MARGINAL' && args.marginal === 'fail' && args.toleranceMs !== undefined && hostWidthMs(o.reading) >= args.toleranceMs / 2,
    );
    const firmFailures = offsets.filter((o) => failing(o.measurement) && !coarse.includes(o));
    const verdict = firmFailures.length > 0 ? 'FAIL' : coarse.length > 0 ? 'ERROR' : 'PASS';
    const limit = args.toleranceMs === undefined ? 'no limit: recorded only' : `limit ${formatMeasurementLimit(measurements[0] as Measurement)}`;
    const judged = (m: Measurement): string => (m.outcome === 'UNSET' ? '' : `: ${m.outcome}`);
    const coarseText = coarse
      .map((o) => {
        const name = args.reads[offsets.indexOf(o)] ?? '';
        return (
          `no verdict: reading ${name} ${o.reading.edge ? 'located its edge only' : 'took'} ${formatDurationMs(hostWidthMs(o.reading))} ` +
          `${o.reading.edge ? 'wide' : 'round trip'}, too coarse to judge ±${formatDurationMs(args.toleranceMs ?? 0)} (a slow link or an overloaded host)`
        );
      })
      .join('; ');
    const message =
      mean === undefined
        ? `board offset ${describeOffset(measurements[0] as Measurement)}; ${limit})${judged(measurements[0] as Measurement)}`
        : `board offsets ${offsets.map((o, i) => `${args.reads[i] ?? ''} ${formatMeasurementValue(o.measurement)}${judged(o.measurement)}`).join(', ')}; ` +
          `mean ${describeOffset(mean)}; ${limit})${judged(mean)}` +
          (verdict === 'FAIL' ? ` (${firmFailures.length} of ${offsets.length} readings outside)` : '');
    return {
      outcome: verdict,
      measurements: mean ? [...measurements, mean] : measurements,
      message: message + (coarseText === '' ? '' : `; ${coarseText}`),
      data: {
        reference: { offsetMs: reference.offsetMs, uncertaintyMs: reference.uncertaintyMs, servers: reference.servers.map((s) => s.server) },
        zoneMinutes: offsets[0]?.zoneMinutes,
        precision: readings.map((r) => (r.edge ? 'edge' : 'second')),
      },
    };
  },
};
