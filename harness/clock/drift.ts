/**
 * The board clock's rate against the reference, in ppm, from a series of offset intervals.
 *
 * Each sample says: at host instant tᵢ (± hᵢ) the board's offset from UTC lay in [loᵢ, hiᵢ], each
 * built from its own reference query, taken next to its reading (one shared query would leave the
 * host's own drift in the rate, up to 100 ppm for an undisciplined host). If the board runs at a
 * constant rate r, its offset is O(t) = O₀ + r·t, and a line stabs every interval exactly when, for
 * every pair i < j,
 *
 *   (loⱼ - hiᵢ) / (tⱼ - tᵢ)  ≤  r  ≤  (hiⱼ - loᵢ) / (tⱼ - tᵢ)
 *
 * (max over i of loᵢ - r·tᵢ must not exceed min over j of hiⱼ - r·tⱼ). So the rate lies in the
 * intersection of the pairwise ranges: a worst-case bound, like the offsets it comes from, that
 * contains the truth whenever every interval does. Its half-width is about (U_first + U_last) / T,
 * U a reading's offset half-width and T the time between the first and last reading: ±2 ms
 * readings 10 minutes apart give ±6.7 ppm. An empty intersection means no constant rate fits: the
 * board's clock stepped or changed rate between readings.
 *
 * Two second-order terms are bounded too: the instant tᵢ is known only to ±hᵢ (so the offset there
 * may differ by |r|·hᵢ), and the host's ticks that measure T run off by up to hostDriftPpm.
 */
import type { Measurement, MeasurementOutcome } from '../core/model.js';
import { judge, partsSummingTo } from './board-offset.js';

export interface OffsetSample {
  /** Host wall-clock ms of the instant the offset stands for (the middle of the edge's host interval). */
  atHostMs: number;
  /** How far, ms, the true instant may lie from atHostMs. */
  atHalfWidthMs: number;
  /** The board's offset from UTC lies in [lowMs, highMs]. */
  lowMs: number;
  highMs: number;
  /** What the offset's half-width is made of, ms (boardOffset's uncertaintyParts). */
  parts: Record<string, number>;
}

export interface DriftOptions {
  /** |rate| must not exceed this; undefined records the rate without a verdict (UNSET). */
  tolerancePpm?: number;
  /** Worst-case rate error of the host clock that measures the time between readings; default 100. */
  hostDriftPpm?: number;
}

export interface DriftResult {
  lowPpm: number;
  highPpm: number;
  /** Least-squares slope through the intervals' midpoints, ppm: a second opinion, not the verdict. */
  leastSquaresPpm: number;
  /** The pairs (sample indices) whose ranges bound the rate from below and from above. */
  boundingPairs: { low: [number, number]; high: [number, number] };
  /** Set when the series admits no constant rate (the intersection is empty). */
  inconsistent?: { pair: [number, number]; otherPair: [number, number] };
  measurement: Measurement;
}

interface Bound {
  ppm: number;
  pair: [number, number];
}

function pairwiseBounds(samples: OffsetSample[], widenMs: (index: number) => number): { low: Bound; high: Bound } {
  let low: Bound = { ppm: Number.NEGATIVE_INFINITY, pair: [0, 0] };
  let high: Bound = { ppm: Number.POSITIVE_INFINITY, pair: [0, 0] };
  for (let i = 0; i < samples.length; i += 1) {
    for (let j = i + 1; j < samples.length; j += 1) {
      const a = samples[i] as OffsetSample;
      const b = samples[j] as OffsetSample;
      const spanMs = b.atHostMs - a.atHostMs;
      if (!(spanMs > 0)) continue;
      const lowPpm = ((b.lowMs - widenMs(j) - (a.highMs + widenMs(i))) / spanMs) * 1e6;
      const highPpm = ((b.highMs + widenMs(j) - (a.lowMs - widenMs(i))) / spanMs) * 1e6;
      if (lowPpm > low.ppm) low = { ppm: lowPpm, pair: [i, j] };
      if (highPpm < high.ppm) high = { ppm: highPpm, pair: [i, j] };
    }
  }
  return { low, high };
}

function leastSquaresPpm(samples: OffsetSample[]): number {
  const n = samples.length;
  const t0 = samples[0]?.atHostMs ?? 0;
  const ts = samples.map((s) => s.atHostMs - t0);
  const ys = samples.map((s) => (s.lowMs + s.highMs) / 2);
  const meanT = ts.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let k = 0; k < n; k += 1) {
    num += ((ts[k] ?? 0) - meanT) * ((ys[k] ?? 0) - meanY);
    den += ((ts[k] ?? 0) - meanT) ** 2;
  }
  return den > 0 ? (num / den) * 1e6 : Number.NaN;
}

/** The rate interval of a series of at least two offset samples in time order; see the top of this file. */
export function boardDrift(samples: OffsetSample[], options: DriftOptions = {}): DriftResult {
  if (samples.length < 2) throw new RangeError('a drift needs at least two offset samples');
  const hostDriftPpm = options.hostDriftPpm ?? 100;
  // First without the timing terms, to bound |r|; then widen each interval by |r|·hᵢ and again.
  const first = pairwiseBounds(samples, () => 0);
  const rateBound = Math.max(Math.abs(first.low.ppm), Math.abs(first.high.ppm)) / 1e6;
  const bounds = pairwiseBounds(samples, (index) => rateBound * (samples[index]?.atHalfWidthMs ?? 0));
  const hostScalePpm = (Math.max(Math.abs(bounds.low.ppm), Math.abs(bounds.high.ppm)) * hostDriftPpm) / 1e6;
  const lowPpm = bounds.low.ppm - hostScalePpm;
  const highPpm = bounds.high.ppm + hostScalePpm;
  const inconsistent = lowPpm > highPpm ? { pair: bounds.low.pair, otherPair: bounds.high.pair } : undefined;

  const tolerancePpm = options.tolerancePpm ?? Number.POSITIVE_INFINITY;
  const outcome: MeasurementOutcome = inconsistent ? 'FAIL' : options.tolerancePpm === undefined ? 'UNSET' : judge(lowPpm, highPpm, tolerancePpm);
  const low = round3(Math.min(lowPpm, highPpm));
  const high = round3(Math.max(lowPpm, highPpm));
  const uncertainty = round3((high - low) / 2);
  return {
    lowPpm,
    highPpm,
    leastSquaresPpm: leastSquaresPpm(samples),
    boundingPairs: { low: bounds.low.pair, high: bounds.high.pair },
    inconsistent,
    measurement: {
      name: 'board clock drift against the reference',
      value: round3((low + high) / 2),
      unit: 'ppm',
      low,
      high,
      uncertainty,
      uncertaintyParts: driftParts(samples, bounds, uncertainty),
      limitLow: -tolerancePpm,
      limitHigh: tolerancePpm,
      outcome,
      explanation:
        `${samples.length} offsets over ${formatSpan(samples)}; the rate every pair of intervals allows, intersected ` +
        `(bounded by readings ${bounds.low.pair.map((i) => i + 1).join('-')} below and ${bounds.high.pair.map((i) => i + 1).join('-')} above); ` +
        `least-squares slope ${leastSquaresPpm(samples).toFixed(2)} ppm`,
    },
  };
}

/**
 * The rate's half-width in the offsets' terms: each bounding pair contributes its two readings' parts
 * divided by the time between them; scaled to the half-width (which the intersection and the
 * second-order terms also shape), so the parts add up to it.
 */
function driftParts(samples: OffsetSample[], bounds: { low: Bound; high: Bound }, uncertaintyPpm: number): Record<string, number> {
  const contributions: Record<string, number> = {};
  for (const bound of [bounds.low, bounds.high]) {
    const [i, j] = bound.pair;
    const a = samples[i] as OffsetSample;
    const b = samples[j] as OffsetSample;
    const spanMs = b.atHostMs - a.atHostMs;
    for (const sample of [a, b]) {
      for (const [name, ms] of Object.entries(sample.parts)) contributions[name] = (contributions[name] ?? 0) + (ms / spanMs) * 1e6;
    }
  }
  const total = Object.values(contributions).reduce((x, y) => x + y, 0);
  if (!(total > 0)) return partsSummingTo(uncertaintyPpm, { reading: uncertaintyPpm });
  return partsSummingTo(
    uncertaintyPpm,
    Object.fromEntries(Object.entries(contributions).map(([name, ppm]) => [name, (ppm / total) * uncertaintyPpm])),
  );
}

function formatSpan(samples: OffsetSample[]): string {
  const spanMs = (samples.at(-1)?.atHostMs ?? 0) - (samples[0]?.atHostMs ?? 0);
  return `${(spanMs / 1000).toFixed(1)} s`;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * How long the first and last reading must lie apart for a rate half-width of `halfWidthPpm`, given
 * their offsets' half-widths: T = (U_first + U_last) / halfWidth.
 */
export function spanNeededMs(firstHalfWidthMs: number, lastHalfWidthMs: number, halfWidthPpm: number): number {
  return ((firstHalfWidthMs + lastHalfWidthMs) / halfWidthPpm) * 1e6;
}
