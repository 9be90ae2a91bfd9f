import { describe, expect, it } from 'vitest';
import type { Measurement } from '../core/model.js';
import { formatMeasurement, formatUncertaintyParts, makeVisible, oneLine } from './format.js';

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
  it('shows a one-second reading in seconds against a limit in seconds', () => {
    expect(formatMeasurement(measurement({ value: 410, uncertainty: 520 }))).toBe('offset +0.41s ±0.52s (limit ±2s)');
    expect(formatMeasurement(measurement({ value: -3412, uncertainty: 520 }))).toBe('offset -3.41s ±0.52s (limit ±2s)');
  });

  it('shows an offset known to a few ms in ms, however large, so its precision is not rounded away', () => {
    expect(formatMeasurement(measurement({ value: -3412.04, uncertainty: 5 }))).toBe('offset -3412.0ms ±5.0ms (limit ±2s)');
    expect(formatMeasurement(measurement({ value: 63_400.4, uncertainty: 12.2 }))).toBe('offset +63400ms ±12ms (limit ±2s)');
    expect(formatMeasurement(measurement({ value: 12.3, uncertainty: 4, limitLow: -50, limitHigh: 50 }))).toBe(
      'offset +12.3ms ±4.0ms (limit ±50ms)',
    );
    expect(formatMeasurement(measurement({ value: -412, uncertainty: 3, limitLow: -1500, limitHigh: 1500 }))).toBe(
      'offset -412.0ms ±3.0ms (limit ±1.5s)',
    );
  });

  it('splits the uncertainty into its parts, in the value\'s unit, leaving out parts too small to show', () => {
    const edge = measurement({
      value: -412,
      uncertainty: 3.004,
      limitLow: -100,
      limitHigh: 100,
      uncertaintyParts: { reading: 1.0, roundTrip: 1.5, reference: 0.5, hostDrift: 0.004 },
    });
    expect(formatMeasurement(edge)).toBe('offset -412.0ms ±3.0ms (reading 1.0, round trip 1.5, reference 0.5; limit ±100ms)');
    expect(formatMeasurement(edge, { parts: false })).toBe('offset -412.0ms ±3.0ms (limit ±100ms)');
    expect(formatUncertaintyParts(edge)).toBe('reading 1.0, round trip 1.5, reference 0.5');
    const second = measurement({ value: 410, uncertainty: 521, uncertaintyParts: { reading: 500, roundTrip: 20, reference: 1, hostDrift: 0 } });
    expect(formatMeasurement(second)).toBe('offset +0.41s ±0.52s (reading 0.50, round trip 0.02; limit ±2s)');
  });

  it('shows a drift in ppm', () => {
    const drift = measurement({
      name: 'drift',
      unit: 'ppm',
      value: 41.23,
      uncertainty: 6.31,
      limitLow: -20,
      limitHigh: 20,
      uncertaintyParts: { reading: 4, roundTrip: 2.01, reference: 0.3 },
    });
    expect(formatMeasurement(drift)).toBe('drift +41.2ppm ±6.3ppm (reading 4.0, round trip 2.0, reference 0.3; limit ±20ppm)');
  });

  it('shows asymmetric and one-sided limits, and a measurement without one', () => {
    expect(formatMeasurement(measurement({ value: 0, uncertainty: 500, limitLow: -1000, limitHigh: 3000 }))).toBe(
      'offset +0.00s ±0.50s (limit [-1s, 3s])',
    );
    expect(
      formatMeasurement(measurement({ name: 'rtt', value: 85, uncertainty: 1, limitLow: Number.NEGATIVE_INFINITY, limitHigh: 500 })),
    ).toBe('rtt +85.0ms ±1.0ms (limit ≤ 500ms)');
    expect(formatMeasurement(measurement({ value: 63_400, uncertainty: 3, limitLow: -Infinity, limitHigh: Infinity }))).toBe(
      'offset +63400.0ms ±3.0ms (no limit: recorded only)',
    );
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
