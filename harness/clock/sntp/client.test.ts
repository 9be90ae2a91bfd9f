import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/errors.js';
import { signNtpPacket } from './auth.js';
import { buildRequest, DEFAULT_MAX_HOST_OFFSET_MS, judgeReply, parseServerSpec, type Expectation } from './client.js';
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
  const expected: Expectation = { ...from, nonce, maxRootDistanceMs: 16_000, maxHostOffsetMs: DEFAULT_MAX_HOST_OFFSET_MS };
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
    ['mode 3', from, reply({ mode: 3 }), 'mode 3 (not a server reply)'],
    ['mode 5 (broadcast)', from, reply({ mode: 5 }), 'mode 5 (not a server reply)'],
    ['version 0', from, reply({ version: 0 }), 'version 0 (not NTPv3 or v4)'],
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

  it('accepts NTP v3 and v4 replies only', () => {
    expect(judge(encodeNtpHeader(reply({ version: 3 }))).kind).toBe('sample');
    expect(judge(encodeNtpHeader(reply({ version: 2 })))).toEqual({ kind: 'ignore', reason: 'version 2 (not NTPv3 or v4)' });
    expect(judge(encodeNtpHeader(reply({ version: 5 })))).toEqual({ kind: 'ignore', reason: 'version 5 (not NTPv3 or v4)' });
  });

  const YEAR_NS = 31_557_600_000_000_000n; // 365.25 days
  const atOffset = (offsetNs: bigint): Partial<NtpHeader> => ({
    receiveTs: unixNsToNtp(t1HostNs + offsetNs),
    transmitTs: unixNsToNtp(t1HostNs + offsetNs + 50_000n),
  });

  it('ignores a reply 100 years off instead of folding it into a 36-year offset (the NTP era wrap)', () => {
    const verdict = judge(encodeNtpHeader(reply(atOffset(100n * YEAR_NS))));
    // Ignored, not rejected: the request goes on waiting, as for a zero timestamp, for a genuine reply.
    expect(verdict).toMatchObject({ kind: 'ignore', reason: 'implausible time' });
    if (verdict.kind !== 'ignore') return;
    // 100 years ahead is, modulo the 136-year era, 36.1 years behind: the era nearest the host.
    expect(verdict.detail).toMatch(
      /^implausible time: the server says 19\d\d-\d\d-\d\dT[\d:.]+Z, 36\.1 years behind the host clock, beyond the 1 day plausibility bound/,
    );
  });

  it('ignores a server time beyond the plausibility bound either way, and takes one within it', () => {
    const DAY_NS = 86_400_000_000_000n;
    expect(judge(encodeNtpHeader(reply(atOffset(DAY_NS + 1_000_000_000n))))).toMatchObject({
      kind: 'ignore',
      detail: expect.stringMatching(/1\.0 days ahead of the host clock, beyond the 1 day plausibility bound/),
    });
    expect(judge(encodeNtpHeader(reply(atOffset(-2n * DAY_NS))))).toMatchObject({
      kind: 'ignore',
      detail: expect.stringMatching(/2(\.0)? days behind the host clock/),
    });
    const nearly = judge(encodeNtpHeader(reply(atOffset(DAY_NS - 1_000_000_000n))));
    expect(nearly.kind).toBe('sample');
    if (nearly.kind === 'sample') expect(nearly.sample.offsetMs).toBeCloseTo(86_399_000, 0);
    // The bound is the caller's: a tighter one refuses what the default takes.
    expect(judge(encodeNtpHeader(reply()), from, { ...expected, maxHostOffsetMs: 4_000 })).toMatchObject({
      kind: 'ignore',
      detail: expect.stringMatching(/5\.00s ahead of the host clock, beyond the 4\.00s plausibility bound/),
    });
  });

  it('checks the receive and the transmit timestamp each, not only their mean', () => {
    // T2 30 years back and T3 30 years ahead average to a plausible offset; neither is plausible.
    const header = reply({ receiveTs: unixNsToNtp(t1HostNs - 30n * YEAR_NS), transmitTs: unixNsToNtp(t1HostNs + 30n * YEAR_NS) });
    expect(judge(encodeNtpHeader(header))).toMatchObject({ kind: 'ignore', reason: 'implausible time', detail: expect.stringMatching(/^implausible time: /) });
  });

  it('converts across the 2036 era wrap: a host just before it, a server just after', () => {
    const wrapNs = BigInt(Date.UTC(2036, 1, 7, 6, 28, 16)) * 1_000_000n;
    const t1 = wrapNs - 1_000_000_000n;
    const header = reply({ receiveTs: unixNsToNtp(t1 + 1_500_000_000n), transmitTs: unixNsToNtp(t1 + 1_500_050_000n) });
    expect((header.receiveTs >> 32n) < 10n).toBe(true); // era 1: the seconds field started again at 0
    const verdict = judgeReply(encodeNtpHeader(header), from, expected, t1, t1 + 200_000n);
    expect(verdict.kind).toBe('sample');
    if (verdict.kind === 'sample') expect(verdict.sample.offsetMs).toBeCloseTo(1500 - 0.075, 3);
    // And the other way round: the host already in era 1, the server still in era 0.
    const t1After = wrapNs + 500_000_000n;
    const behind = reply({ receiveTs: unixNsToNtp(t1After - 2_000_000_000n), transmitTs: unixNsToNtp(t1After - 1_999_950_000n) });
    const late = judgeReply(encodeNtpHeader(behind), from, expected, t1After, t1After + 200_000n);
    expect(late.kind).toBe('sample');
    if (late.kind === 'sample') expect(late.sample.offsetMs).toBeCloseTo(-2000 - 0.075, 3);
  });

  it('names a stratum-0 code that is no kiss code, escaped', () => {
    const verdict = judge(encodeNtpHeader(reply({ stratum: 0, refId: Buffer.from([0x1b, 0x5b, 0x32, 0x4a]) })));
    expect(verdict).toEqual({ kind: 'reject', reason: 'unsynchronised (stratum 0, refid "\\x1b[2J" is no kiss code)' });
    expect(JSON.stringify(verdict)).not.toMatch(/\\u001b/); // no raw ESC to escape: it never got in
  });

  it('rejects absurd root delay and root dispersion (the largest the wire can carry)', () => {
    expect(judge(encodeNtpHeader(reply({ rootDelayMs: 65_535_000 })))).toMatchObject({
      kind: 'reject',
      reason: expect.stringMatching(/^root distance 32767500 ms exceeds 16000 ms/),
    });
    expect(judge(encodeNtpHeader(reply({ rootDispersionMs: 65_535_000 })))).toMatchObject({ kind: 'reject' });
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
