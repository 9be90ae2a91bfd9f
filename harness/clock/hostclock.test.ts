import { describe, expect, it } from 'vitest';
import { createHostClock } from './hostclock.js';

describe('host clock', () => {
  it('reads the same wall clock as Date.now(), with sub-millisecond resolution, never going back', () => {
    const clock = createHostClock();
    let previousNs = clock.nowNs();
    const fractions = new Set<bigint>();
    for (let i = 0; i < 2000; i++) {
      const beforeMs = Date.now();
      const nowNs = clock.nowNs();
      const afterMs = Date.now();
      expect(nowNs >= previousNs).toBe(true);
      // Date.now() floors: the true instant lies in [beforeMs, afterMs + 1) ms. Allow 0.3 ms for a descheduled anchor.
      expect(Number(nowNs) / 1e6).toBeGreaterThan(beforeMs - 0.3);
      expect(Number(nowNs) / 1e6).toBeLessThan(afterMs + 1.3);
      fractions.add((nowNs % 1_000_000n) / 10_000n);
      previousNs = nowNs;
    }
    expect(fractions.size).toBeGreaterThan(10);
  });

  it('stays aligned across refreshes', () => {
    const clock = createHostClock();
    for (let i = 0; i < 3; i++) {
      clock.refresh();
      expect(Math.abs(Number(clock.nowNs()) / 1e6 - Date.now())).toBeLessThan(1.5);
    }
  });
});
