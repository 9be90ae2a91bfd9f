import { describe, expect, it } from 'vitest';
import type { LocaltimeReading, LocaltimeTuple } from '../board/board.js';
import { boardOffset, judge, wallFieldsToMs } from './board-offset.js';

/** A reading of a board whose clock is `boardOffsetMs` ahead of UTC, taken at host time `hostMs`. */
function readingAt(hostMs: number, boardOffsetMs: number, roundTripMs: number, zoneHours = 0): LocaltimeReading {
  // The board samples its clock in the middle of the round trip; host clock = UTC here.
  const boardMs = hostMs + roundTripMs / 2 + boardOffsetMs + zoneHours * 3_600_000;
  const d = new Date(boardMs);
  const fields: LocaltimeTuple = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0, 0];
  return { via: 'repl', localtime: fields, hostSendMs: hostMs, hostReceiveMs: hostMs + roundTripMs, raw: '' };
}

const exactReference = { offsetMs: 0, uncertaintyMs: 0, measuredAtHostMs: Date.UTC(2026, 10, 21, 12, 0, 0) };

describe('boardOffset', () => {
  it('gives an interval containing +5 s for a board 5 s fast, and FAILs a 2 s tolerance', () => {
    for (const fraction of [0, 123, 500, 999]) {
      const host = Date.UTC(2026, 10, 21, 12, 0, 0) + fraction;
      const result = boardOffset(readingAt(host, 5000, 40), exactReference, { timezoneHours: 0, toleranceMs: 2000 });
      expect(result.lowMs).toBeLessThanOrEqual(5000);
      expect(result.highMs).toBeGreaterThanOrEqual(5000);
      expect(result.highMs - result.lowMs).toBeCloseTo(1040, 0);
      expect(result.measurement.outcome).toBe('FAIL');
    }
  });

  it('PASSes a board 0.5 s fast with a 2 s tolerance', () => {
    const host = Date.UTC(2026, 10, 21, 12, 0, 0) + 700;
    const result = boardOffset(readingAt(host, 500, 30), exactReference, { timezoneHours: 0, toleranceMs: 2000 });
    expect(result.lowMs).toBeLessThanOrEqual(500);
    expect(result.highMs).toBeGreaterThanOrEqual(500);
    expect(result.measurement.outcome).toBe('PASS');
  });

  it('is MARGINAL when the interval straddles the limit', () => {
    const host = Date.UTC(2026, 10, 21, 12, 0, 0) + 300;
    const result = boardOffset(readingAt(host, 1800, 30), exactReference, { timezoneHours: 0, toleranceMs: 2000 });
    expect(result.measurement.outcome).toBe('MARGINAL');
  });

  it('applies the reference offset and widens by its uncertainty', () => {
    // The host is 10 s slow: UTC = host + 10 s. A board on true UTC therefore reads host + 10 s.
    const host = Date.UTC(2026, 10, 21, 12, 0, 0);
    const reading = readingAt(host, 10_000, 20);
    const reference = { offsetMs: 10_000, uncertaintyMs: 5, measuredAtHostMs: host };
    const result = boardOffset(reading, reference, { timezoneHours: 0, toleranceMs: 2000 });
    expect(result.lowMs).toBeLessThanOrEqual(0);
    expect(result.highMs).toBeGreaterThanOrEqual(0);
    expect(result.highMs - result.lowMs).toBeCloseTo(1000 + 20 + 10, 0);
  });

  it('takes a REPL reading in the scenario time zone and an AT reading in its own zone', () => {
    const host = Date.UTC(2026, 10, 21, 12, 0, 0);
    const beijing = readingAt(host, 0, 20, 8);
    expect(boardOffset(beijing, exactReference, { timezoneHours: 8, toleranceMs: 2000 }).measurement.outcome).toBe('PASS');
    expect(boardOffset(beijing, exactReference, { timezoneHours: 0, toleranceMs: 2000 }).measurement.outcome).toBe('FAIL');
    const cclk = { ...readingAt(host, 0, 20, -6), zoneQuarterHours: -24, via: 'at' as const };
    expect(boardOffset(cclk, exactReference, { timezoneHours: 0, toleranceMs: 2000 }).measurement.outcome).toBe('PASS');
  });

  it('wallFieldsToMs reads fields as UTC', () => {
    expect(wallFieldsToMs([2020, 10, 28, 3, 15, 11, 2, 302])).toBe(Date.UTC(2020, 9, 28, 3, 15, 11));
  });

  it('judge handles the edges', () => {
    expect(judge(-2000, 2000, 2000)).toBe('PASS');
    expect(judge(2001, 3000, 2000)).toBe('FAIL');
    expect(judge(-3000, -2001, 2000)).toBe('FAIL');
    expect(judge(1500, 2500, 2000)).toBe('MARGINAL');
  });
});

describe('boardOffset without a tolerance', () => {
  it('records the interval with no verdict (UNSET) and unbounded limits', () => {
    const host = Date.UTC(2026, 10, 21, 12, 0, 0);
    const result = boardOffset(readingAt(host, 63_400, 20), exactReference, { timezoneHours: 0 });
    expect(result.measurement.outcome).toBe('UNSET');
    expect(result.measurement.limitHigh).toBe(Infinity);
    expect(result.lowMs).toBeLessThanOrEqual(63_400);
    expect(result.highMs).toBeGreaterThanOrEqual(63_400);
  });
});

/**
 * An edge-timed reading of a board whose clock is `boardOffsetMs` ahead of UTC (host clock = UTC + the
 * reference's offset): the board entered the shown second at host instant `edgeHostMs`, and the
 * reader reports an interval around it, `earlyMs` before and `lateMs` after.
 */
function edgeReadingAt(
  edgeHostMs: number,
  options: { boardOffsetMs: number; hostBehindUtcMs?: number; earlyMs: number; lateMs: number; readingMs: number; roundTripMs: number },
): LocaltimeReading {
  const boardMs = edgeHostMs + (options.hostBehindUtcMs ?? 0) + options.boardOffsetMs;
  // The edge is where the board's clock reads a whole second.
  expect(Math.abs(boardMs - Math.round(boardMs / 1000) * 1000)).toBeLessThan(1e-6);
  const d = new Date(Math.round(boardMs));
  const fields: LocaltimeTuple = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0, 0];
  return {
    via: 'repl',
    localtime: fields,
    hostSendMs: edgeHostMs - 900,
    hostReceiveMs: edgeHostMs + 40,
    raw: '',
    edge: {
      method: 'repl-ticks',
      hostLowMs: edgeHostMs - options.earlyMs,
      hostHighMs: edgeHostMs + options.lateMs,
      readingMs: options.readingMs,
      roundTripMs: options.roundTripMs,
      evidence: {},
    },
  };
}

/** A host instant at which a board `offsetMs` ahead of UTC enters a whole second (host = UTC + hostBehind). */
function edgeHostInstant(offsetMs: number, hostBehindUtcMs = 0): number {
  return Date.UTC(2026, 10, 21, 12, 0, 10) - offsetMs - hostBehindUtcMs;
}

describe('boardOffset for an edge-timed reading', () => {
  it('gives an interval a few ms wide that contains the true offset, across offsets and positions in the interval', () => {
    for (const offsetMs of [-61_000.3, -3_412.7, -500, -12.25, 0, 0.4, 412, 1_499.9, 60_000]) {
      for (const [earlyMs, lateMs] of [[0, 3], [1.5, 1.5], [3, 0], [0.2, 2.8]] as const) {
        const reference = { offsetMs: 250, uncertaintyMs: 0.5, measuredAtHostMs: edgeHostInstant(offsetMs, 250) - 2_000 };
        const reading = edgeReadingAt(edgeHostInstant(offsetMs, 250), {
          boardOffsetMs: offsetMs,
          hostBehindUtcMs: 250,
          earlyMs,
          lateMs,
          readingMs: 0.5,
          roundTripMs: 1,
        });
        const result = boardOffset(reading, reference, { timezoneHours: 0, toleranceMs: 100 });
        expect(result.lowMs).toBeLessThanOrEqual(offsetMs);
        expect(result.highMs).toBeGreaterThanOrEqual(offsetMs);
        expect(result.measurement.low).toBeLessThanOrEqual(offsetMs);
        expect(result.measurement.high).toBeGreaterThanOrEqual(offsetMs);
        // 3 ms of host interval + 2 × (0.5 ms reference + 100 ppm × 2 s host drift).
        expect(result.highMs - result.lowMs).toBeCloseTo(3 + 2 * (0.5 + 0.2), 2);
      }
    }
  });

  it('splits the half-width into reading, round trip, reference and host drift parts that add up to it', () => {
    const offsetMs = -412;
    const reference = { offsetMs: 0, uncertaintyMs: 0.5, measuredAtHostMs: edgeHostInstant(offsetMs) - 1_000 };
    const reading = edgeReadingAt(edgeHostInstant(offsetMs), { boardOffsetMs: offsetMs, earlyMs: 2.5, lateMs: 2.5, readingMs: 1, roundTripMs: 1.5 });
    const m = boardOffset(reading, reference, { timezoneHours: 0, toleranceMs: 100 }).measurement;
    expect(m.uncertaintyParts).toEqual({
      reading: expect.closeTo(1, 2) as number,
      roundTrip: expect.closeTo(1.5, 2) as number,
      reference: 0.5,
      hostDrift: expect.closeTo(0.1, 2) as number,
    });
    const sum = Object.values(m.uncertaintyParts ?? {}).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(m.uncertainty, 4);
    expect(m.uncertainty).toBeCloseTo(3.1, 2);
    expect(m.value).toBeCloseTo(-412, 1);
    expect(m.explanation).toMatch(/edge timed by repl-ticks/);
  });

  it('scales parts that do not add up to the host interval so they still account for it', () => {
    const offsetMs = 0;
    const reference = { offsetMs: 0, uncertaintyMs: 0, measuredAtHostMs: edgeHostInstant(offsetMs) };
    // A 4 ms host interval whose stated parts say 1 ms: the interval is what counts.
    const reading = edgeReadingAt(edgeHostInstant(offsetMs), { boardOffsetMs: 0, earlyMs: 2, lateMs: 2, readingMs: 0.25, roundTripMs: 0.75 });
    const m = boardOffset(reading, reference, { timezoneHours: 0, toleranceMs: 100 }).measurement;
    expect(m.uncertaintyParts?.reading).toBeCloseTo(0.5, 2);
    expect(m.uncertaintyParts?.roundTrip).toBeCloseTo(1.5, 2);
    expect(m.uncertainty).toBeCloseTo(2, 2);
  });

  it('judges ms tolerances: PASS inside, FAIL outside, MARGINAL astride', () => {
    const reference = (at: number): { offsetMs: number; uncertaintyMs: number; measuredAtHostMs: number } => ({
      offsetMs: 0,
      uncertaintyMs: 0.5,
      measuredAtHostMs: at,
    });
    const judgeAt = (offsetMs: number): string => {
      const at = edgeHostInstant(offsetMs);
      return boardOffset(edgeReadingAt(at, { boardOffsetMs: offsetMs, earlyMs: 1.5, lateMs: 1.5, readingMs: 0.5, roundTripMs: 1 }), reference(at), {
        timezoneHours: 0,
        toleranceMs: 100,
      }).measurement.outcome;
    };
    expect(judgeAt(-40)).toBe('PASS');
    expect(judgeAt(95)).toBe('PASS');
    expect(judgeAt(-412)).toBe('FAIL');
    expect(judgeAt(110)).toBe('FAIL');
    expect(judgeAt(99)).toBe('MARGINAL');
    expect(judgeAt(-101)).toBe('MARGINAL');
  });

  it('gives second-precision readings parts too: 1 s resolution, round trip, reference', () => {
    const host = Date.UTC(2026, 10, 21, 12, 0, 0) + 300;
    const reference = { offsetMs: 0, uncertaintyMs: 2, measuredAtHostMs: host };
    const m = boardOffset(readingAt(host, 500, 40), reference, { timezoneHours: 0, toleranceMs: 2000 }).measurement;
    expect(m.uncertaintyParts).toEqual({
      reading: expect.closeTo(500, 2) as number,
      roundTrip: expect.closeTo(20, 2) as number,
      reference: 2,
      hostDrift: expect.closeTo(0.004, 3) as number,
    });
    const sum = Object.values(m.uncertaintyParts ?? {}).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(m.uncertainty, 4);
  });
});
