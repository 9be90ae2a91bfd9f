import { describe, expect, it } from 'vitest';
import { selectTruechimers } from './select.js';

const c = (offsetMs: number, uncertaintyMs: number) => ({ offsetMs, uncertaintyMs });

describe('falseticker selection', () => {
  it('votes out the one server of three that disagrees', () => {
    const result = selectTruechimers([c(0.2, 1), c(-0.1, 0.5), c(2000, 1)]);
    expect(result).toMatchObject({ ok: true, truechimers: [0, 1], falsetickers: [2] });
    if (result.ok) {
      expect(result.lowMs).toBeCloseTo(-0.6, 9);
      expect(result.highMs).toBeCloseTo(0.4, 9);
    }
  });

  it('keeps everyone when all intervals overlap', () => {
    expect(selectTruechimers([c(0, 1), c(1.5, 1), c(-0.5, 1)])).toMatchObject({ ok: true, falsetickers: [] });
  });

  it('counts touching intervals as agreeing', () => {
    expect(selectTruechimers([c(0, 1), c(2, 1), c(50, 1)])).toMatchObject({ ok: true, truechimers: [0, 1], falsetickers: [2] });
  });

  it('votes out two of five', () => {
    const result = selectTruechimers([c(10, 0.5), c(0, 1), c(0.3, 1), c(-0.2, 1), c(-30, 2)]);
    expect(result).toMatchObject({ ok: true, truechimers: [1, 2, 3], falsetickers: [0, 4] });
  });

  it('finds no majority between two servers that disagree, or three that all do', () => {
    expect(selectTruechimers([c(0, 1), c(100, 1)])).toEqual({ ok: false, reason: 'no majority of the 2 servers agree (at most 1 overlap)' });
    expect(selectTruechimers([c(0, 1), c(100, 1), c(200, 1)]).ok).toBe(false);
  });

  it('does not let a huge interval outvote a tight majority', () => {
    // The wide one intersects everything, so it survives, but the outlier still goes.
    expect(selectTruechimers([c(0, 0.1), c(0.05, 0.1), c(500, 0.1), c(0, 10_000)])).toMatchObject({
      ok: true,
      falsetickers: [2],
    });
  });

  it('takes a single server as it is', () => {
    expect(selectTruechimers([c(3, 1)])).toEqual({ ok: true, lowMs: 2, highMs: 4, truechimers: [0], falsetickers: [] });
    expect(selectTruechimers([]).ok).toBe(false);
  });
});
