import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aesCmac, cmacSubkeys, computeDigest, signNtpPacket, verifyNtpMac } from './auth.js';
import { keyFromConfig, type SntpKey } from './keys.js';
import { decodeNtpPacket } from './packet.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../fixtures/ntp/${name}`, import.meta.url), 'utf8'));

interface Rfc4493 {
  key: string;
  subkeys: { L: string; K1: string; K2: string };
  examples: { length: number; message: string; mac: string }[];
}
interface ChronydExchanges {
  exchanges: { key: { id: number; type: string; hex: string } | null; request: string; reply: string }[];
}

describe('AES-128-CMAC (RFC 4493)', () => {
  const vectors = fixture('rfc4493-aes-cmac.json') as Rfc4493;
  const key = Buffer.from(vectors.key, 'hex');

  it('derives the RFC subkeys', () => {
    const { k1, k2 } = cmacSubkeys(key);
    expect(k1.toString('hex')).toBe(vectors.subkeys.K1);
    expect(k2.toString('hex')).toBe(vectors.subkeys.K2);
  });

  it.each(vectors.examples)('matches example with a $length-byte message', ({ message, mac }) => {
    expect(aesCmac(key, Buffer.from(message, 'hex')).toString('hex')).toBe(mac);
  });

  it('refuses a key that is not 16 bytes', () => {
    expect(() => aesCmac(Buffer.alloc(15), Buffer.alloc(0))).toThrow(/16-byte key/);
  });
});

describe('NTP MACs', () => {
  const header = Buffer.alloc(48, 0x5a);
  const keys: SntpKey[] = [
    { id: 1, type: 'SHA1', key: Buffer.from('0102030405060708090a0b0c0d0e0f1011121314', 'hex') },
    { id: 2, type: 'MD5', key: Buffer.from('secret') },
    { id: 3, type: 'AES128', key: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex') },
  ];

  it.each(keys)('signs and verifies with $type, and catches one flipped bit', (key) => {
    const signed = signNtpPacket(header, key);
    expect(signed).toHaveLength(48 + 4 + (key.type === 'SHA1' ? 20 : 16));
    expect(signed.readUInt32BE(48)).toBe(key.id);
    expect(verifyNtpMac(signed, keys)).toEqual({ ok: true, key });
    for (const position of [0, 47, signed.length - 1]) {
      const tampered = Buffer.from(signed);
      tampered[position] = (tampered[position] ?? 0) ^ 0x01;
      expect(verifyNtpMac(tampered, keys)).toEqual({ ok: false, reason: 'bad MAC' });
    }
  });

  it('puts the key before the packet for MD5 and SHA1, not after', () => {
    const md5 = keys[1] as SntpKey;
    expect(computeDigest(md5, header)).not.toEqual(computeDigest({ ...md5, key: Buffer.alloc(0) }, Buffer.concat([header, md5.key])));
  });

  it('reports a missing MAC, a crypto-NAK and an unknown key', () => {
    expect(verifyNtpMac(header, keys)).toEqual({ ok: false, reason: 'no MAC' });
    expect(verifyNtpMac(Buffer.concat([header, Buffer.alloc(4)]), keys)).toEqual({ ok: false, reason: 'crypto-NAK' });
    const signed = signNtpPacket(header, { ...(keys[0] as SntpKey), id: 99 });
    expect(verifyNtpMac(signed, keys)).toEqual({ ok: false, reason: 'unknown key' });
  });

  describe('interoperates with chronyd 4.3 (captured exchanges)', () => {
    const { exchanges } = fixture('chronyd-4.3-exchanges.json') as ChronydExchanges;
    const signedOnes = exchanges.flatMap((exchange) => (exchange.key ? [{ ...exchange, key: exchange.key }] : []));

    it.each(signedOnes)('verifies chronyd replies signed with $key.type', ({ key: config, request, reply }) => {
      const key = keyFromConfig(config);
      // Our request is what chronyd accepted; our signing must reproduce it bit for bit.
      expect(signNtpPacket(Buffer.from(request, 'hex').subarray(0, 48), key).toString('hex')).toBe(request);
      const replyBytes = Buffer.from(reply, 'hex');
      expect(verifyNtpMac(replyBytes, [key])).toEqual({ ok: true, key });
      expect(decodeNtpPacket(replyBytes).mac?.keyId).toBe(key.id);
      const wrong = { ...key, key: Buffer.alloc(key.key.length, 0x55) };
      expect(verifyNtpMac(replyBytes, [wrong])).toEqual({ ok: false, reason: 'bad MAC' });
    });
  });
});
