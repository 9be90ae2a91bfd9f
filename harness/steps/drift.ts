import { z } from 'zod';
import type { LocaltimeReading } from '../board/board.js';
import { boardOffset } from '../clock/board-offset.js';
import { boardDrift, spanNeededMs, type OffsetSample } from '../clock/drift.js';
import type { ReferenceResult } from '../clock/reference.js';
import { formatDurationMs } from '../core/duration.js';
import { BoardError, InputError } from '../core/errors.js';
import { commonStepOptions, durationMs, via } from '../core/schema.js';
import { sleep } from '../core/sleep.js';
import { formatMeasurementInterval, formatMeasurementLimit, formatMeasurementValue, formatUncertaintyParts } from '../report/format.js';
import type { StepDefinition } from './step.js';

/** `20ppm` (or a bare number of ppm). */
const ppm = z.union([z.number(), z.string().regex(/^\d+(\.\d+)?\s*ppm$/, 'ppm with its unit, e.g. 20ppm').transform((t) => Number.parseFloat(t))]);

/** Longest an edge-timed reading and its reference query may take (3 s REPL, 5 s AT, plus the query). */
const READING_ALLOWANCE_MS = 15_000;

const schema = z
  .object({
    via: via.default('repl'),
    /** Edge-timed readings in the series, first and last `over` apart. */
    readings: z.number().int().min(2).max(20).default(2),
    over: durationMs.refine((ms) => ms >= 1000, 'at least 1s: the uncertainty is (U_first + U_last) / over'),
    /** Zone of REPL readings, hours east of UTC: only for the offsets shown beside the rate (a zone cancels out of it). */
    timezone: z.number().int().min(-12).max(12).default(0),
    tolerance: ppm.refine((v) => v > 0, 'must be more than 0ppm').optional(),
    marginal: z.enum(['fail', 'pass']).default('fail'),
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, tolerance, over, ...rest }) => ({
    ...rest,
    overMs: over,
    tolerancePpm: tolerance,
    timeoutMs: timeout ?? over + rest.readings * READING_ALLOWANCE_MS,
  }));
type Args = z.output<typeof schema>;

/**
 * `drift: { via: repl, readings: 3, over: 10m, tolerance: 20ppm }`: the board clock's rate against the
 * reference. Takes `readings` edge-timed readings spread over `over`, queries the reference afresh
 * next to each (a shared query would leave the host's own drift in the rate), and bounds the rate by
 * every pair of offset intervals (clock/drift.ts). Its half-width is about (U_first + U_last) / over.
 */
export const driftStep: StepDefinition<Args> = {
  kind: 'drift',
  summary: "measure the board clock's rate against the reference, in ppm",
  schema,
  defaultTimeoutMs: 60_000,
  describe: (args) =>
    `drift via ${args.via} over ${formatDurationMs(args.overMs)} (${args.readings} readings, ` +
    `${args.tolerancePpm === undefined ? 'record only' : `±${args.tolerancePpm}ppm`})`,
  needsReference: () => true,
  minimumDurationMs: (args) => args.overMs,
  async run(context, args) {
    if (!context.reference) throw new InputError('drift: no reference servers configured');
    const startedMonoMs = performance.now();
    const samples: OffsetSample[] = [];
    const evidence: { reading: LocaltimeReading; reference: Pick<ReferenceResult, 'offsetMs' | 'uncertaintyMs' | 'measuredAtHostMs' | 'selectedServer'> }[] = [];
    for (let index = 0; index < args.readings; index += 1) {
      await sleep(startedMonoMs + (index * args.overMs) / (args.readings - 1) - performance.now(), context.signal);
      context.signal.throwIfAborted();
      const reading = await context.board
        .driver(args.via)
        .readLocaltime({ timeoutMs: Math.min(READING_ALLOWANCE_MS, context.timeLeftMs()), signal: context.signal, precision: 'edge' });
      // A driver asked for an edge that returns none is a qhil bug, not the board's or the rig's fault.
      if (!reading.edge) throw new Error(`drift: the ${args.via} driver returned a reading without its edge`);
      // Fresh for each reading, through the runner so the run records it and times it as the reference's.
      const reference = await context.queryReference({ fresh: true });
      const offset = boardOffset(reading, reference, { timezoneHours: args.timezone });
      samples.push({
        atHostMs: (reading.edge.hostLowMs + reading.edge.hostHighMs) / 2,
        atHalfWidthMs: (reading.edge.hostHighMs - reading.edge.hostLowMs) / 2,
        lowMs: offset.lowMs,
        highMs: offset.highMs,
        parts: offset.measurement.uncertaintyParts ?? {},
      });
      const { offsetMs, uncertaintyMs, measuredAtHostMs, selectedServer } = reference;
      evidence.push({ reading, reference: { offsetMs, uncertaintyMs, measuredAtHostMs, selectedServer } });
      context.log(`drift reading ${index + 1}/${args.readings}: offset ${formatMeasurementValue(offset.measurement)}`);
    }
    const result = boardDrift(samples, { tolerancePpm: args.tolerancePpm });
    const m = result.measurement;
    const offsets = samples.map((s, i) => `#${i + 1} [${s.lowMs.toFixed(1)}, ${s.highMs.toFixed(1)}] ms`).join(', ');
    const data = { samples, readings: evidence, leastSquaresPpm: result.leastSquaresPpm, boundingPairs: result.boundingPairs };
    if (result.inconsistent) {
      const [i, j] = result.inconsistent.pair;
      throw new BoardError(
        `the board clock ran at no constant rate: no line fits its offsets (${offsets}); ` +
          `readings ${i + 1} and ${j + 1} need a faster rate than another pair allows: the clock stepped or changed rate`,
      );
    }
    // A straddle as wide as half the tolerance says the series was too short or its readings too
    // coarse for the limit: no verdict on the board (ERROR), with the span that would do.
    const tooCoarse = m.outcome === 'MARGINAL' && args.marginal === 'fail' && args.tolerancePpm !== undefined && m.uncertainty >= args.tolerancePpm / 2;
    const verdict = tooCoarse ? 'ERROR' : m.outcome === 'FAIL' || (m.outcome === 'MARGINAL' && args.marginal === 'fail') ? 'FAIL' : 'PASS';
    const first = samples[0] as OffsetSample;
    const last = samples.at(-1) as OffsetSample;
    const neededMs = spanNeededMs((first.highMs - first.lowMs) / 2, (last.highMs - last.lowMs) / 2, (args.tolerancePpm ?? 1) / 4);
    const parts = formatUncertaintyParts(m);
    const limit = args.tolerancePpm === undefined ? 'no limit: recorded only' : `limit ${formatMeasurementLimit(m)}`;
    return {
      outcome: verdict,
      measurements: [m],
      message:
        `board clock drift ${formatMeasurementValue(m)} (${parts === '' ? '' : `${parts}; `}within ${formatMeasurementInterval(m)}; ${limit})` +
        (m.outcome === 'UNSET' ? '' : `: ${m.outcome}`) +
        (tooCoarse ? `; no verdict: readings over ${formatDurationMs(args.overMs)} are too coarse to judge ±${args.tolerancePpm}ppm; over: ${formatDurationMs(neededMs)} would do` : '') +
        `; offsets ${offsets}`,
      data,
    };
  },
};
