import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { signNtpPacket } from './auth.js';
import { buildRequest, judgeReply, parseServerSpec, type Expectation } from './client.js';
import type { SntpKey } from './keys.js';
import { decodeNtpPacket, encodeNtpHeader, encodeRefId, unixNsToNtp, type NtpHeader } from './packet.js';

describe('server names', () => {
  it.each([
    ['pool.ntp.org', 'pool.ntp.org', 123],
    ['127.0.0.1:11123', '127.0.0.1', 11123],
    ['[::1]:123', '::1', 123],
    ['[::1]', '::1', 123],
    ['::1', '::1', 123],
    ['fe80::1', 'fe80::1', 123],
    ['ntp1.lab.example:1123', 'ntp1.lab.example', 1123],
  ])('%s is host %s port %d', (text, host, port) => {
    expect(parseServerSpec(text)).toEqual({ text, host, port });
  });

  it.each(['', 'host:0', 'host:70000', 'host:x', '[notv6]:123', ':123', 'a b', '[::1', '::1]'])('rejects "%s"', (text) => {
    expect(() => parseServerSpec(text)).toThrow(InputError);
  });
});

describe('judging a reply', () => {
  const t1HostNs = 1_795_000_000_000_000_000n;
  const t4HostNs = t1HostNs + 200_000n; // 0.2 ms round trip
  const nonce = 0x0123456789abcdefn;
  const from = { address: '127.0.0.1', port: 11123 };
  const expected: Expectation = { ...from, nonce, maxRootDistanceMs: 16_000 };
  /** A genuine reply from a server 5 s ahead that held the request for 0.05 ms. */
  const reply = (patch: Partial<NtpHeader> = {}): NtpHeader => ({
    leap: 0,
    version: 4,
    mode: 4,
    stratum: 2,
    poll: 0,
    precision: -20,
    rootDelayMs: 0,
    rootDispersionMs: 0,
    refId: encodeRefId('192.0.2.1'),
    referenceTs: 0n,
    originTs: nonce,
    receiveTs: unixNsToNtp(t1HostNs + 5_000_075_000n),
    transmitTs: unixNsToNtp(t1HostNs + 5_000_125_000n),
    ...patch,
  });
  const judge = (bytes: Buffer, source = from, expectation = expected) =>
    judgeReply(bytes, source, expectation, t1HostNs, t4HostNs);

  it('turns a genuine reply into a sample', () => {
    const verdict = judge(encodeNtpHeader(reply()));
    expect(verdict.kind).toBe('sample');
    if (verdict.kind !== 'sample') return;
    expect(verdict.sample.offsetMs).toBeCloseTo(5000, 6);
    expect(verdict.sample.delayMs).toBeCloseTo(0.15, 6);
    expect(verdict.sample.uncertaintyMs).toBeCloseTo(0.075 + 2 ** -20 * 1000, 6);
    expect(verdict.sample).toMatchObject({ stratum: 2, refId: '192.0.2.1', leap: 0 });
  });

  it.each([
    ['another address', { address: '127.0.0.2', port: 11123 }, reply(), 'wrong source'],
    ['another port', { address: '127.0.0.1', port: 11124 }, reply(), 'wrong source'],
    ['a different origin', from, reply({ originTs: nonce + 1n }), 'origin mismatch'],
    ['origin zero', from, reply({ originTs: 0n }), 'origin mismatch'],
    ['mode 3', from, reply({ mode: 3 }), 'mode 3'],
    ['mode 5 (broadcast)', from, reply({ mode: 5 }), 'mode 5'],
    ['version 0', from, reply({ version: 0 }), 'version 0'],
    ['a zero transmit timestamp', from, reply({ transmitTs: 0n }), 'zero timestamp'],
    ['a zero receive timestamp', from, reply({ receiveTs: 0n }), 'zero timestamp'],
    ['transmit before receive', from, reply({ transmitTs: unixNsToNtp(t1HostNs + 4_000_000_000n) }), 'transmit before receive'],
  ])('ignores a reply from %s', (_what, source, header, reason) => {
    expect(judge(encodeNtpHeader(header), source)).toEqual({ kind: 'ignore', reason });
  });

  it('ignores a truncated datagram', () => {
    expect(judge(encodeNtpHeader(reply()).subarray(0, 40))).toEqual({ kind: 'ignore', reason: 'malformed' });
  });

  it('rejects unsynchronised servers, and never calls chronyd unsynchronised a kiss', () => {
    expect(judge(encodeNtpHeader(reply({ leap: 3 })))).toEqual({ kind: 'reject', reason: 'unsynchronised (LI=3)' });
    // chronyd before it has a source: LI=3, stratum 0, refid 0.
    expect(judge(encodeNtpHeader(reply({ leap: 3, stratum: 0, refId: Buffer.alloc(4) })))).toEqual({
      kind: 'reject',
      reason: 'unsynchronised (LI=3)',
    });
    expect(judge(encodeNtpHeader(reply({ stratum: 16 })))).toEqual({ kind: 'reject', reason: 'unsynchronised (stratum 16)' });
    expect(judge(encodeNtpHeader(reply({ stratum: 0, refId: Buffer.alloc(4) })))).toEqual({
      kind: 'reject',
      reason: 'unsynchronised (stratum 0)',
    });
  });

  it('reads a kiss-o-death as a kiss, whatever its timestamps say', () => {
    const kod = reply({ leap: 3, stratum: 0, refId: encodeRefId('RATE'), receiveTs: nonce, transmitTs: nonce });
    expect(judge(encodeNtpHeader(kod))).toEqual({ kind: 'reject', reason: 'kiss RATE', kiss: 'RATE' });
    expect(judge(encodeNtpHeader({ ...kod, refId: encodeRefId('DENY') }))).toMatchObject({ kiss: 'DENY' });
  });

  it('rejects a server too far from its reference (root distance)', () => {
    expect(judge(encodeNtpHeader(reply({ rootDelayMs: 2000, rootDispersionMs: 15_500 })))).toEqual({
      kind: 'reject',
      reason: 'root distance 16500 ms exceeds 16000 ms',
    });
    expect(judge(encodeNtpHeader(reply({ rootDispersionMs: 600 })), from, { ...expected, maxRootDistanceMs: 500 }).kind).toBe(
      'reject',
    );
  });

  describe('with a key', () => {
    const key: SntpKey = { id: 7, type: 'AES128', key: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex') };
    const keyed: Expectation = { ...expected, key };

    it('accepts only replies signed with that key', () => {
      const header = encodeNtpHeader(reply());
      expect(judge(signNtpPacket(header, key), from, keyed).kind).toBe('sample');
      expect(judge(header, from, keyed)).toEqual({ kind: 'ignore', reason: 'no MAC' });
      expect(judge(signNtpPacket(header, { ...key, id: 8 }), from, keyed)).toEqual({ kind: 'ignore', reason: 'unknown key' });
      expect(judge(signNtpPacket(header, { ...key, key: Buffer.alloc(16) }), from, keyed)).toEqual({
        kind: 'ignore',
        reason: 'bad MAC',
      });
    });

    it('ignores an unsigned kiss-o-death (anyone on the path could send one)', () => {
      const kod = encodeNtpHeader(reply({ leap: 3, stratum: 0, refId: encodeRefId('DENY') }));
      expect(judge(kod, from, keyed)).toEqual({ kind: 'ignore', reason: 'no MAC' });
    });
  });
});

describe('requests', () => {
  it('carry only the nonce, in the transmit field, as a v4 client', () => {
    const request = decodeNtpPacket(buildRequest(0xfeedn));
    expect(request).toMatchObject({ version: 4, mode: 3, transmitTs: 0xfeedn, originTs: 0n, receiveTs: 0n, referenceTs: 0n });
  });
});
