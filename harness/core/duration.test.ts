import { describe, expect, it } from 'vitest';
import { DurationSyntaxError, formatDurationMs, MAX_DURATION_MS, parseDurationMs } from './duration.js';

describe('formatDurationMs', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [999.4, '999ms'],
    // Each form is chosen after rounding: never "1000ms", "60.0s" or "59m60s".
    [999.6, '1.00s'],
    [1234, '1.23s'],
    [9_994, '9.99s'],
    [9_996, '10.0s'],
    [12_345, '12.3s'],
    [59_500, '59.5s'],
    [59_949, '59.9s'],
    [59_960, '1m00s'],
    [60_000, '1m00s'],
    [245_000, '4m05s'],
    [3_599_400, '59m59s'],
    [3_599_600, '1h00m00s'],
    [7_380_000, '2h03m00s'],
    [MAX_DURATION_MS, '24h00m00s'],
    [-59_960, '-1m00s'],
    [-850, '-850ms'],
  ])('%s ms is %s', (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text);
  });

  it('never prints 60 seconds or 60 minutes in any minute of a day', () => {
    for (let ms = 0; ms <= MAX_DURATION_MS; ms += 59_987) {
      expect(formatDurationMs(ms)).not.toMatch(/(^|[hm])60[ms]/);
    }
  });
});

describe('parseDurationMs', () => {
  it('reads units and signs', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('-2.5s')).toBe(-2500);
    expect(parseDurationMs('24h')).toBe(MAX_DURATION_MS);
  });

  it('refuses more than 24h either way, and numbers too big to be numbers, saying so', () => {
    for (const text of ['25h', '86400001ms', '-25h', '99999999999h', `${'9'.repeat(400)}h`]) {
      expect(() => parseDurationMs(text), text).toThrow(DurationSyntaxError);
    }
    expect(() => parseDurationMs('99999999999h')).toThrow('bad duration "99999999999h": longer than 24h, the most qhil allows');
  });

  it('never echoes a megabyte of what it was given', () => {
    const error = (() => {
      try {
        parseDurationMs('x'.repeat(1 << 20));
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('expected a DurationSyntaxError');
    })();
    expect(error.message.length).toBeLessThan(300);
  });
});
