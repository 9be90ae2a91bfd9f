import { describe, expect, it } from 'vitest';
import { boardDrift, spanNeededMs, type OffsetSample } from './drift.js';

/** A deterministic pseudo-random sequence in [0, 1), so a failing case can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Offset samples of a board whose offset is `startOffsetMs` at `t0` and grows at `ratePpm`, taken at
 * `atMs` (ms after t0): each interval has half-width `halfWidthMs` and holds the truth somewhere inside.
 */
function samplesOf(ratePpm: number, atMs: number[], halfWidthMs: number, next: () => number, startOffsetMs = -412): OffsetSample[] {
  const t0 = Date.UTC(2026, 10, 21, 12, 0, 0);
  return atMs.map((t) => {
    const truth = startOffsetMs + (ratePpm * t) / 1e6;
    const centre = truth + (next() * 2 - 1) * halfWidthMs;
    return {
      atHostMs: t0 + t,
      atHalfWidthMs: 1,
      lowMs: centre - halfWidthMs,
      highMs: centre + halfWidthMs,
      parts: { reading: halfWidthMs * 0.4, roundTrip: halfWidthMs * 0.4, reference: halfWidthMs * 0.2, hostDrift: 0 },
    };
  });
}

describe('boardDrift', () => {
  it('bounds the rate with an interval that contains the true rate, over many series', () => {
    const next = random(9);
    for (let trial = 0; trial < 500; trial += 1) {
      const ratePpm = (next() * 2 - 1) * 200;
      const count = 2 + Math.floor(next() * 5);
      const spanMs = 10_000 + next() * 600_000;
      const atMs = Array.from({ length: count }, (_, k) => (k * spanMs) / (count - 1));
      const result = boardDrift(samplesOf(ratePpm, atMs, 0.5 + next() * 5, next), { tolerancePpm: 50 });
      expect(result.inconsistent).toBeUndefined();
      expect(result.lowPpm).toBeLessThanOrEqual(ratePpm);
      expect(result.highPpm).toBeGreaterThanOrEqual(ratePpm);
      expect(result.measurement.low).toBeLessThanOrEqual(ratePpm + 1e-3);
      expect(result.measurement.high).toBeGreaterThanOrEqual(ratePpm - 1e-3);
    }
  });

  it('has the half-width (U_first + U_last) / T for two readings, split into parts that add up to it', () => {
    // Both readings dead centre: offsets exactly on the line.
    const samples = samplesOf(40, [0, 600_000], 2, () => 0.5);
    const result = boardDrift(samples, { tolerancePpm: 20, hostDriftPpm: 0 });
    // (2 + 2) ms over 600 s = 6.67 ppm (plus |r|·h: 40e-6 × 1 ms × 2 / 600 s, negligible).
    expect(result.measurement.uncertainty).toBeCloseTo(6.667, 2);
    expect(result.measurement.value).toBeCloseTo(40, 2);
    const parts = result.measurement.uncertaintyParts ?? {};
    expect(Object.values(parts).reduce((a, b) => a + b, 0)).toBeCloseTo(result.measurement.uncertainty, 3);
    expect(parts.reading).toBeCloseTo(result.measurement.uncertainty * 0.4, 2);
    expect(parts.reference).toBeCloseTo(result.measurement.uncertainty * 0.2, 2);
    expect(result.measurement.unit).toBe('ppm');
    expect(spanNeededMs(2, 2, 6.667)).toBeCloseTo(600_000, -2);
  });

  it('judges: FAIL when the whole interval is beyond the limit, PASS inside, MARGINAL astride', () => {
    const judged = (ratePpm: number, tolerancePpm: number): string =>
      boardDrift(samplesOf(ratePpm, [0, 300_000, 600_000], 1, () => 0.5), { tolerancePpm }).measurement.outcome;
    expect(judged(40, 20)).toBe('FAIL');
    expect(judged(-40, 20)).toBe('FAIL');
    expect(judged(3, 20)).toBe('PASS');
    expect(judged(19, 20)).toBe('MARGINAL');
    expect(boardDrift(samplesOf(3, [0, 600_000], 1, () => 0.5)).measurement.outcome).toBe('UNSET');
  });

  it('says when no constant rate fits: a clock that stepped between readings', () => {
    const samples = samplesOf(0, [0, 10_000, 20_000], 1, () => 0.5);
    const stepped = samples.map((s, k) => (k === 2 ? { ...s, lowMs: s.lowMs - 100, highMs: s.highMs - 100 } : s));
    // 0 then 0 then -100 ms: readings 1-2 allow ±200 ppm, readings 2-3 need about -10 000 ppm.
    const result = boardDrift(stepped, { tolerancePpm: 20 });
    expect(result.inconsistent).toBeDefined();
    expect(result.measurement.outcome).toBe('FAIL');
  });

  it('needs two samples', () => {
    expect(() => boardDrift(samplesOf(0, [0], 1, () => 0.5))).toThrow(RangeError);
  });
});
