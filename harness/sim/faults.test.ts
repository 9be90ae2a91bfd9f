import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import { FAULT_NAMES, Garbler, parseFault } from './faults.js';

describe('parseFault', () => {
  it('parses names and values with units', () => {
    expect(parseFault('no-sim')).toEqual({ name: 'no-sim' });
    expect(parseFault('clock-offset=-2.5s')).toEqual({ name: 'clock-offset', value: -2500 });
    expect(parseFault('clock-drift', '40ppm')).toEqual({ name: 'clock-drift', value: 40 });
    expect(parseFault('slow-output=20ms')).toEqual({ name: 'slow-output', value: 20 });
    expect(parseFault('garbled-output=5%')).toEqual({ name: 'garbled-output', value: 0.05, garble: { mode: 'mixed', seed: 1 } });
    expect(parseFault('usb-disconnect=1s')).toEqual({ name: 'usb-disconnect', value: 1000 });
    expect(parseFault('usb-disconnect')).toEqual({ name: 'usb-disconnect' });
    expect(parseFault('reboot')).toEqual({ name: 'reboot' });
  });

  it('parses the garble mode and seed', () => {
    expect(parseFault('garbled-output=0.1,drop')).toEqual({ name: 'garbled-output', value: 0.1, garble: { mode: 'drop', seed: 1 } });
    expect(parseFault('garbled-output', '2%, replace, seed=42')).toEqual({ name: 'garbled-output', value: 0.02, garble: { mode: 'replace', seed: 42 } });
    expect(() => parseFault('garbled-output=0.1,shred')).toThrow(/bad value "0.1,shred"/);
    expect(() => parseFault('garbled-output=0.1,seed=x')).toThrow(InputError);
    expect(() => parseFault('garbled-output=,drop')).toThrow(InputError);
  });

  it('rejects unknown names, missing and bad values as input errors naming the fault', () => {
    expect(() => parseFault('no-such')).toThrow(InputError);
    expect(() => parseFault('clock-offset')).toThrow(/needs a value/);
    expect(() => parseFault('clock-offset=3')).toThrow(/bad value "3"/);
    expect(() => parseFault('garbled-output=2')).toThrow(/garbled-output/);
    expect(() => parseFault('slow-output=-5ms')).toThrow(/slow-output/);
  });

  it('has an example value for every fault that needs one', () => {
    for (const name of FAULT_NAMES) {
      try {
        parseFault(name);
      } catch (error) {
        const example = /e\.g\. (\S+)/.exec(String(error))?.[1] ?? '';
        expect(() => parseFault(example), `${name}: ${example}`).not.toThrow();
      }
    }
  });
});

describe('Garbler', () => {
  const line = Buffer.from('+CCLK: "26/05/31,12:00:00+04"\r\n', 'latin1');

  it('is deterministic for a seed, whatever the chunking, and differs between seeds', () => {
    const whole = new Garbler(0.2, 'mixed', 7).garble(Buffer.concat([line, line, line]));
    const chunked = new Garbler(0.2, 'mixed', 7);
    const pieces = Buffer.concat([line.subarray(0, 5), line.subarray(5), line, line].map((piece) => chunked.garble(piece)));
    expect(pieces).toEqual(whole);
    expect(new Garbler(0.2, 'mixed', 8).garble(Buffer.concat([line, line, line]))).not.toEqual(whole);
  });

  it('drop removes bytes and keeps the rest in order (a line that lost bytes)', () => {
    const out = new Garbler(0.1, 'drop', 3).garble(line);
    expect(out.length).toBeLessThan(line.length);
    expect(isSubsequence(out, line)).toBe(true);
  });

  it('replace keeps the length and changes every byte it picks', () => {
    const out = new Garbler(1, 'replace', 5).garble(line);
    expect(out.length).toBe(line.length);
    expect([...out].every((byte, i) => byte !== line[i])).toBe(true);
    const some = new Garbler(0.1, 'replace', 5).garble(line);
    const changed = [...some].filter((byte, i) => byte !== line[i]).length;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThan(line.length / 2);
  });

  it('mixed both replaces and drops; rate 0 changes nothing', () => {
    const same = Buffer.alloc(2000, 'A');
    const out = new Garbler(0.05, 'mixed', 11).garble(same);
    expect(out.length).toBeLessThan(same.length);
    expect(out.some((byte) => byte !== 0x41)).toBe(true);
    expect(new Garbler(0, 'mixed', 11).garble(line)).toEqual(line);
  });
});

function isSubsequence(part: Buffer, whole: Buffer): boolean {
  let at = 0;
  for (const byte of part) {
    at = whole.indexOf(byte, at);
    if (at < 0) return false;
    at += 1;
  }
  return true;
}
