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
