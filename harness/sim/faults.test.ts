import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { parseFault } from './faults.js';

describe('parseFault', () => {
  it('parses names and values with units', () => {
    expect(parseFault('no-sim')).toEqual({ name: 'no-sim' });
    expect(parseFault('clock-offset=-2.5s')).toEqual({ name: 'clock-offset', value: -2500 });
    expect(parseFault('clock-drift', '40ppm')).toEqual({ name: 'clock-drift', value: 40 });
    expect(parseFault('slow-output=20ms')).toEqual({ name: 'slow-output', value: 20 });
    expect(parseFault('garbled-output=5%')).toEqual({ name: 'garbled-output', value: 0.05 });
    expect(parseFault('usb-disconnect=1s')).toEqual({ name: 'usb-disconnect', value: 1000 });
  });

  it('rejects unknown names, missing and bad values as input errors naming the fault', () => {
    expect(() => parseFault('no-such')).toThrow(InputError);
    expect(() => parseFault('clock-offset')).toThrow(/needs a value/);
    expect(() => parseFault('clock-offset=3')).toThrow(/bad value "3"/);
    expect(() => parseFault('garbled-output=2')).toThrow(/garbled-output/);
    expect(() => parseFault('slow-output=-5ms')).toThrow(/slow-output/);
  });
});
