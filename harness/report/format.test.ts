import { describe, expect, it } from 'vitest';
import type { Measurement } from '../core/model.js';
import { formatMeasurement, makeVisible, oneLine } from './format.js';

function measurement(fields: Partial<Measurement>): Measurement {
  const value = fields.value ?? 0;
  const uncertainty = fields.uncertainty ?? 0;
  return {
    name: 'offset',
    unit: 'ms',
    low: value - uncertainty,
    high: value + uncertainty,
    limitLow: -2000,
    limitHigh: 2000,
    outcome: 'PASS',
    ...fields,
    value,
    uncertainty,
  };
}

describe('formatMeasurement', () => {
  it('shows a clock offset in seconds against a limit in seconds', () => {
    expect(formatMeasurement(measurement({ value: 410, uncertainty: 520 }))).toBe('offset +0.41s ±0.52s (limit ±2s)');
    expect(formatMeasurement(measurement({ value: -3412, uncertainty: 5 }))).toBe('offset -3.41s ±0.01s (limit ±2s)');
  });

  it('stays in milliseconds for sub-second limits', () => {
    expect(formatMeasurement(measurement({ value: 12.3, uncertainty: 4, limitLow: -50, limitHigh: 50 }))).toBe(
      'offset +12ms ±4ms (limit ±50ms)',
    );
  });

  it('shows asymmetric and one-sided limits', () => {
    expect(formatMeasurement(measurement({ value: 0, limitLow: -1000, limitHigh: 3000 }))).toBe('offset +0.00s ±0.00s (limit [-1s, 3s])');
    expect(
      formatMeasurement(measurement({ name: 'rtt', value: 85, uncertainty: 1, limitLow: Number.NEGATIVE_INFINITY, limitHigh: 500 })),
    ).toBe('rtt +85ms ±1ms (limit ≤ 500ms)');
  });

  it('keeps other units as they are', () => {
    expect(formatMeasurement(measurement({ name: 'rssi', unit: 'dBm', value: -71, uncertainty: 1, limitLow: -100, limitHigh: -50 }))).toBe(
      'rssi -71dBm ±1dBm (limit [-100dBm, -50dBm])',
    );
  });
});

describe('makeVisible', () => {
  it('escapes control bytes and lone surrogates but keeps text, tabs, newlines and emoji', () => {
    expect(makeVisible('a\x04b\x1b[0m\tc\r\nd\x7f')).toBe('a\\x04b\\x1b[0m\tc\r\nd\\x7f');
    expect(makeVisible('x\ud800y 😀')).toBe('x\\ud800y 😀');
  });

  it('oneLine joins lines and shortens', () => {
    expect(oneLine('a\r\n  b\nc')).toBe('a b c');
    expect(oneLine('x'.repeat(10), 5)).toBe('xxxx…');
  });
});
