import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { durationFlagMs, timeoutFlagMs } from './flags.js';

describe('duration flags', () => {
  it('read durations, negative ones too', () => {
    expect(durationFlagMs('--offset', '-2.5s')).toBe(-2500);
    expect(timeoutFlagMs('--timeout', '30s')).toBe(30_000);
  });

  it('make a malformed or unbounded duration bad input naming the flag (qhil exec --timeout 99999999999h)', () => {
    expect(() => durationFlagMs('--timeout', '99999999999h')).toThrow(InputError);
    expect(() => durationFlagMs('--timeout', '99999999999h')).toThrow('--timeout: bad duration "99999999999h": longer than 24h, the most qhil allows');
    expect(() => durationFlagMs('--offset', 'soon')).toThrow(/^--offset: bad duration "soon": expected a number with a unit/);
  });

  it('refuse a timeout of 0 or less', () => {
    expect(() => timeoutFlagMs('--timeout', '0s')).toThrow('--timeout: must be longer than 0, got "0s"');
    expect(() => timeoutFlagMs('--timeout', '-1s')).toThrow(InputError);
  });
});
