import { describe, expect, it } from 'vitest';
import {
  decodeNtpPacket,
  encodeNtpHeader,
  encodeRefId,
  formatRefId,
  kissCode,
  NtpFormatError,
  ntpDiff,
  ntpSecondsToY2kSeconds,
  ntpToUnixMs,
  ntpToUnixNs,
  ntpUnitsToMs,
  offsetAndDelay,
  unixMsToNtp,
  unixNsToNtp,
  type NtpHeader,
} from './packet.js';

const header: NtpHeader = {
  leap: 2,
  version: 4,
  mode: 4,
  stratum: 3,
  poll: 6,
  precision: -23,
  rootDelayMs: 15.625, // exactly representable in 16.16 seconds
  rootDispersionMs: 31.25,
  refId: Buffer.from([192, 0, 2, 7]),
  referenceTs: 0xeeab9355_15617d4cn,
  originTs: 0x01234567_89abcdefn,
  receiveTs: 0xeeab9356_9be78b49n,
  transmitTs: 0xeeab9356_9be8f6ean,
};

/** 2036-02-07T06:28:16Z: NTP seconds wrap to 0 here (era 1 starts). */
const ERA1_START_MS = Date.UTC(2036, 1, 7, 6, 28, 16);

describe('packet encoding', () => {
  it('round-trips every header field', () => {
    const bytes = encodeNtpHeader(header);
    expect(bytes).toHaveLength(48);
    expect(bytes[0]).toBe(0b10_100_100);
    expect(decodeNtpPacket(bytes)).toEqual(header);
  });

  it('decodes a real chronyd reply byte for byte', () => {
    const reply = Buffer.from(
      '240a00e600000000000000007f7f0101eeab935515617d4c0123456789abcdefeeab93569be78b49eeab93569be8f6ea',
      'hex',
    );
    const packet = decodeNtpPacket(reply);
    expect(packet).toMatchObject({ leap: 0, version: 4, mode: 4, stratum: 10, poll: 0, precision: -26 });
    expect(formatRefId(packet.refId, packet.stratum)).toBe('127.127.1.1');
    expect(packet.originTs).toBe(0x0123456789abcdefn);
    expect(new Date(ntpToUnixMs(packet.transmitTs, Date.UTC(2026, 10, 21))).toISOString()).toBe('2026-11-21T03:49:42.609Z');
  });

  it('decodes the 0x1b request QuecPython ntptime sends as a v3 client request', () => {
    const request = Buffer.alloc(48);
    request[0] = 0x1b;
    expect(decodeNtpPacket(request)).toMatchObject({ leap: 0, version: 3, mode: 3, transmitTs: 0n });
  });

  it('splits off a MAC of 16 or 20 bytes, and a crypto-NAK', () => {
    const bytes = encodeNtpHeader(header);
    const keyId = Buffer.from([0, 0, 0, 9]);
    expect(decodeNtpPacket(Buffer.concat([bytes, keyId, Buffer.alloc(20, 1)])).mac).toEqual({
      keyId: 9,
      digest: Buffer.alloc(20, 1),
    });
    expect(decodeNtpPacket(Buffer.concat([bytes, keyId, Buffer.alloc(16, 2)])).mac?.digest).toHaveLength(16);
    expect(decodeNtpPacket(Buffer.concat([bytes, keyId])).mac).toEqual({ keyId: 9, digest: Buffer.alloc(0) });
  });

  it('rejects short packets and unknown trailers', () => {
    expect(() => decodeNtpPacket(Buffer.alloc(47))).toThrow(NtpFormatError);
    expect(() => decodeNtpPacket(Buffer.alloc(48 + 10))).toThrow(/unsupported packet length 58/);
    expect(() => decodeNtpPacket(Buffer.alloc(48 + 4 + 32))).toThrow(NtpFormatError);
  });
});

describe('kiss codes and reference ids', () => {
  it('tells a kiss-o-death from an unsynchronised chronyd answer', () => {
    expect(kissCode({ stratum: 0, refId: Buffer.from('RATE') })).toBe('RATE');
    expect(kissCode({ stratum: 0, refId: Buffer.from('DENY') })).toBe('DENY');
    // chronyd, unsynchronised: LI=3, stratum 0, refid 0. Not a kiss.
    expect(kissCode({ stratum: 0, refId: Buffer.alloc(4) })).toBeUndefined();
    expect(kissCode({ stratum: 1, refId: Buffer.from('GPS\0') })).toBeUndefined();
    expect(kissCode({ stratum: 0, refId: Buffer.from([0x7f, 0, 0, 1]) })).toBeUndefined();
  });

  it('formats reference ids by stratum', () => {
    expect(formatRefId(Buffer.from('GPS\0'), 1)).toBe('GPS');
    expect(formatRefId(Buffer.from([127, 127, 1, 1]), 10)).toBe('127.127.1.1');
    expect(encodeRefId('127.127.1.1')).toEqual(Buffer.from([127, 127, 1, 1]));
    expect(encodeRefId('PPS')).toEqual(Buffer.from('PPS\0'));
  });
});

describe('timestamp conversion and eras', () => {
  it('puts the Unix epoch at NTP second 2208988800', () => {
    expect(unixMsToNtp(0)).toBe(2_208_988_800n << 32n);
    expect(ntpToUnixMs(2_208_988_800n << 32n, 0)).toBe(0);
  });

  it('converts an era-1 timestamp (2040) right, pivoting on a 2026 "now"', () => {
    const when = Date.UTC(2040, 0, 1, 12, 0, 0, 250);
    const raw = unixMsToNtp(when);
    // 2040 is past the 32-bit wrap: the on-wire seconds are small.
    expect(raw >> 32n).toBe(BigInt(when / 1000 - 0.25) + 2_208_988_800n - (1n << 32n));
    expect(ntpToUnixMs(raw, Date.UTC(2026, 0, 1))).toBe(when);
    expect(ntpToUnixMs(raw, Date.UTC(2045, 5, 1))).toBe(when);
  });

  it('keeps era 0 for a 1990 timestamp and maps the wrap instant both ways', () => {
    const when = Date.UTC(1990, 5, 1);
    expect(ntpToUnixMs(unixMsToNtp(when), Date.UTC(2030, 0, 1))).toBe(when);
    expect(unixMsToNtp(ERA1_START_MS)).toBe(0n);
    expect(ntpToUnixMs(0n, ERA1_START_MS)).toBe(ERA1_START_MS);
    expect(ntpToUnixMs(0xffffffff_80000000n, ERA1_START_MS)).toBe(ERA1_START_MS - 500);
  });

  it('keeps sub-microsecond resolution', () => {
    const ns = 1_795_232_974_881_253_417n;
    expect(ntpToUnixNs(unixNsToNtp(ns), ns)).toBe(ns);
  });

  it('converts NTP seconds to the year-2000 epoch MicroPython uses', () => {
    const when = Date.UTC(2026, 10, 21, 3, 49, 42);
    const seconds32 = Number(unixMsToNtp(when) >> 32n);
    expect(ntpSecondsToY2kSeconds(seconds32, when)).toBe((when - Date.UTC(2000, 0, 1)) / 1000);
  });
});

describe('offset and delay', () => {
  // Inputs in exact nanoseconds: a double of Unix ms only resolves ~0.2 µs today.
  const at = (baseMs: number, plusNs: bigint) => unixNsToNtp(BigInt(baseMs) * 1_000_000n + plusNs);

  it('computes θ and δ from the four timestamps, server ahead = positive', () => {
    const base = Date.UTC(2026, 0, 1);
    const { offsetMs, delayMs } = offsetAndDelay(
      at(base, 0n),
      at(base, 5_000_050_000n),
      at(base, 5_000_060_000n),
      at(base, 100_000n),
    );
    expect(offsetMs).toBeCloseTo(5000.005, 6);
    expect(delayMs).toBeCloseTo(0.09, 6);
  });

  it('is right across the era boundary', () => {
    const base = ERA1_START_MS - 100;
    const t1 = at(base, 0n); // era 0
    const t2 = at(base, 5_000_050_000n); // era 1
    expect(t2 < t1).toBe(true);
    const { offsetMs, delayMs } = offsetAndDelay(t1, t2, at(base, 5_000_060_000n), at(base, 100_000n));
    expect(offsetMs).toBeCloseTo(5000.005, 6);
    expect(delayMs).toBeCloseTo(0.09, 6);
  });

  it('gives a negative offset when the server is behind', () => {
    const base = Date.UTC(2026, 0, 1);
    const { offsetMs } = offsetAndDelay(at(base, 0n), at(base, -1_999_950_000n), at(base, -1_999_940_000n), at(base, 100_000n));
    expect(offsetMs).toBeCloseTo(-1999.995, 6);
  });

  it('works in exact 64-bit integers where doubles would lose the low bits', () => {
    const t1 = 0xe0000000_00000001n;
    // As doubles these four are all the same number; the true answer is 2 and 1 units.
    const result = offsetAndDelay(t1, t1 + 3n, t1 + 3n, t1 + 1n);
    expect(Number(t1 + 3n) - Number(t1)).toBe(0);
    expect(result.offsetUnits).toBe(2n); // ((T2 - T1) + (T3 - T4)) / 2 = (3 + 2) / 2, truncated
    expect(result.delayUnits).toBe(1n);
    expect(ntpDiff(1n, 0xffffffff_ffffffffn)).toBe(2n);
    expect(ntpUnitsToMs(-(1n << 32n) - (1n << 31n))).toBe(-1500);
  });
});
