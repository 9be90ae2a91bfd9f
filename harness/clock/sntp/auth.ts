/**
 * NTP symmetric-key authentication (RFC 5905 §7.3, as chrony and ntpd do it): a MAC of key id (uint32)
 * and digest follows the 48-byte header. MD5 and SHA1: digest = H(key ‖ header). AES128: digest =
 * AES-128-CMAC(key, header) (RFC 4493), built here on node's AES block cipher.
 */
import { createCipheriv, createHash, timingSafeEqual } from 'node:crypto';
import type { SntpKey } from './keys.js';
import { NTP_HEADER_BYTES } from './packet.js';

const BLOCK = 16;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** R_b of RFC 4493 for a 128-bit block. */
const RB = 0x87;

function aesEncryptBlock(key: Buffer, block: Buffer): Buffer {
  const cipher = createCipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

function shiftLeftOne(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    out[i] = (((block[i] ?? 0) << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  }
  return out;
}

function xorInto(target: Buffer, other: Buffer): void {
  for (let i = 0; i < target.length; i++) target[i] = (target[i] ?? 0) ^ (other[i] ?? 0);
}

/** RFC 4493 §2.3 subkey generation. */
export function cmacSubkeys(key: Buffer): { k1: Buffer; k2: Buffer } {
  if (key.length !== BLOCK) throw new RangeError(`AES-128-CMAC needs a 16-byte key, got ${key.length} bytes`);
  const l = aesEncryptBlock(key, ZERO_BLOCK);
  const k1 = shiftLeftOne(l);
  if ((l[0] ?? 0) & 0x80) k1[BLOCK - 1] = (k1[BLOCK - 1] ?? 0) ^ RB;
  const k2 = shiftLeftOne(k1);
  if ((k1[0] ?? 0) & 0x80) k2[BLOCK - 1] = (k2[BLOCK - 1] ?? 0) ^ RB;
  return { k1, k2 };
}

/** RFC 4493 §2.4 AES-CMAC: a 16-byte tag. CBC-MAC over the blocks, the last one whitened with K1 or K2. */
export function aesCmac(key: Buffer, message: Buffer): Buffer {
  const { k1, k2 } = cmacSubkeys(key);
  const blocks = Math.max(1, Math.ceil(message.length / BLOCK));
  const complete = message.length > 0 && message.length % BLOCK === 0;
  const lastStart = (blocks - 1) * BLOCK;
  const last = Buffer.alloc(BLOCK);
  message.copy(last, 0, lastStart);
  if (complete) {
    xorInto(last, k1);
  } else {
    last[message.length - lastStart] = 0x80;
    xorInto(last, k2);
  }
  const cbc = createCipheriv('aes-128-cbc', key, ZERO_BLOCK);
  cbc.setAutoPadding(false);
  const out = Buffer.concat([cbc.update(message.subarray(0, lastStart)), cbc.update(last), cbc.final()]);
  return out.subarray(out.length - BLOCK);
}

export function digestBytes(type: SntpKey['type']): number {
  return type === 'SHA1' ? 20 : 16;
}

/** The digest for `covered` (the bytes before the MAC) with `key`. */
export function computeDigest(key: SntpKey, covered: Buffer): Buffer {
  switch (key.type) {
    case 'MD5':
      return createHash('md5').update(key.key).update(covered).digest();
    case 'SHA1':
      return createHash('sha1').update(key.key).update(covered).digest();
    case 'AES128':
      return aesCmac(key.key, covered);
  }
}

/** Header followed by key id and digest. */
export function signNtpPacket(header: Buffer, key: SntpKey): Buffer {
  const keyId = Buffer.alloc(4);
  keyId.writeUInt32BE(key.id >>> 0);
  return Buffer.concat([header, keyId, computeDigest(key, header)]);
}

export type MacCheck =
  | { ok: true; key: SntpKey }
  | { ok: false; reason: 'no MAC' | 'crypto-NAK' | 'unknown key' | 'bad MAC' };

/**
 * Checks the MAC of a raw datagram against `keys` (the key is chosen by the packet's key id; pass
 * only the key you expect when the key id must match a request). Only the header is covered:
 * extension fields are not supported (decodeNtpPacket rejects them).
 */
export function verifyNtpMac(datagram: Buffer, keys: readonly SntpKey[]): MacCheck {
  if (datagram.length <= NTP_HEADER_BYTES) return { ok: false, reason: 'no MAC' };
  if (datagram.length === NTP_HEADER_BYTES + 4) return { ok: false, reason: 'crypto-NAK' };
  const keyId = datagram.readUInt32BE(NTP_HEADER_BYTES);
  const key = keys.find((candidate) => candidate.id === keyId);
  if (!key) return { ok: false, reason: 'unknown key' };
  const digest = datagram.subarray(NTP_HEADER_BYTES + 4);
  const expected = computeDigest(key, datagram.subarray(0, NTP_HEADER_BYTES));
  if (digest.length !== expected.length || !timingSafeEqual(digest, expected)) return { ok: false, reason: 'bad MAC' };
  return { ok: true, key };
}
