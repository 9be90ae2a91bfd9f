/**
 * The NTP/SNTP packet (RFC 5905 / RFC 4330): encoding, decoding, timestamp conversion and the offset
 * and delay maths. Pure functions only; no sockets here.
 *
 * Timestamps travel as raw 64-bit 32.32 fixed-point values (`NtpTimestamp`, a bigint). They carry no
 * era, so conversion to Unix time needs a pivot ("now") and maps the 32-bit seconds into the window
 * [pivot - 2^31 s, pivot + 2^31 s): that is how a 2040 timestamp (era 1) still converts right.
 */

/** Raw on-wire NTP timestamp: unsigned 64-bit, 32 bits of seconds and 32 bits of fraction. */
export type NtpTimestamp = bigint;

/** Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01). */
export const NTP_UNIX_EPOCH_DIFF_S = 2_208_988_800n;
/** Seconds from the NTP epoch to the year-2000 epoch used by MicroPython and QuecPython. */
export const NTP_Y2K_EPOCH_DIFF_S = 3_155_673_600n;
/** Size of the fixed NTP header; a MAC or extension fields may follow it. */
export const NTP_HEADER_BYTES = 48;

export const NtpMode = { SymmetricActive: 1, SymmetricPassive: 2, Client: 3, Server: 4, Broadcast: 5 } as const;
/** Leap indicator values; 3 means the server's clock is not synchronised. */
export const Leap = { None: 0, AddSecond: 1, DeleteSecond: 2, Unsynchronised: 3 } as const;

const NS_PER_S = 1_000_000_000n;
const TWO_32 = 1n << 32n;
const TWO_31 = 1n << 31n;

export interface NtpHeader {
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  /** log2 seconds, signed */
  poll: number;
  /** log2 seconds, signed */
  precision: number;
  /** Server's round-trip delay to its primary reference, ms (16.16 fixed point on the wire). */
  rootDelayMs: number;
  /** Server's dispersion to its primary reference, ms (16.16 fixed point on the wire). */
  rootDispersionMs: number;
  /** The 4 raw reference-id bytes: ASCII at stratum 0/1, IPv4 address (or IPv6 hash) above. */
  refId: Buffer;
  referenceTs: NtpTimestamp;
  originTs: NtpTimestamp;
  receiveTs: NtpTimestamp;
  transmitTs: NtpTimestamp;
}

export interface NtpMac {
  keyId: number;
  /** Empty for a crypto-NAK (key id only). */
  digest: Buffer;
}

export interface NtpPacket extends NtpHeader {
  mac?: NtpMac;
}

export class NtpFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NtpFormatError';
  }
}

/** Digest lengths a MAC may have: MD5 and AES-128-CMAC 16 bytes, SHA1 20 bytes. */
const MAC_DIGEST_BYTES = new Set([16, 20]);

function shortToMs(raw: number): number {
  return (raw / 65536) * 1000;
}

function msToShort(ms: number): number {
  const raw = Math.round((ms / 1000) * 65536);
  return Math.min(Math.max(raw, 0), 0xffff_ffff);
}

/** Encodes the 48-byte header (no MAC). */
export function encodeNtpHeader(header: NtpHeader): Buffer {
  const buf = Buffer.alloc(NTP_HEADER_BYTES);
  buf[0] = ((header.leap & 3) << 6) | ((header.version & 7) << 3) | (header.mode & 7);
  buf[1] = header.stratum & 0xff;
  buf.writeInt8(header.poll, 2);
  buf.writeInt8(header.precision, 3);
  buf.writeUInt32BE(msToShort(header.rootDelayMs), 4);
  buf.writeUInt32BE(msToShort(header.rootDispersionMs), 8);
  header.refId.copy(buf, 12, 0, 4);
  buf.writeBigUInt64BE(BigInt.asUintN(64, header.referenceTs), 16);
  buf.writeBigUInt64BE(BigInt.asUintN(64, header.originTs), 24);
  buf.writeBigUInt64BE(BigInt.asUintN(64, header.receiveTs), 32);
  buf.writeBigUInt64BE(BigInt.asUintN(64, header.transmitTs), 40);
  return buf;
}

/**
 * Decodes a datagram. Accepts a bare header, a header with a MAC (key id + 16 or 20 byte digest) or
 * with a crypto-NAK (key id only). Anything else (extension fields, truncation) is a NtpFormatError:
 * the client never needs them, and guessing at them is how parsers get fooled.
 */
export function decodeNtpPacket(buf: Buffer): NtpPacket {
  if (buf.length < NTP_HEADER_BYTES) throw new NtpFormatError(`packet too short (${buf.length} bytes)`);
  const first = buf[0] ?? 0;
  const header: NtpPacket = {
    leap: first >> 6,
    version: (first >> 3) & 7,
    mode: first & 7,
    stratum: buf[1] ?? 0,
    poll: buf.readInt8(2),
    precision: buf.readInt8(3),
    rootDelayMs: shortToMs(buf.readUInt32BE(4)),
    rootDispersionMs: shortToMs(buf.readUInt32BE(8)),
    refId: Buffer.from(buf.subarray(12, 16)),
    referenceTs: buf.readBigUInt64BE(16),
    originTs: buf.readBigUInt64BE(24),
    receiveTs: buf.readBigUInt64BE(32),
    transmitTs: buf.readBigUInt64BE(40),
  };
  const trailer = buf.length - NTP_HEADER_BYTES;
  if (trailer === 0) return header;
  if (trailer === 4 || (trailer > 4 && MAC_DIGEST_BYTES.has(trailer - 4))) {
    header.mac = {
      keyId: buf.readUInt32BE(NTP_HEADER_BYTES),
      digest: Buffer.from(buf.subarray(NTP_HEADER_BYTES + 4)),
    };
    return header;
  }
  throw new NtpFormatError(`unsupported packet length ${buf.length} (extension fields are not supported)`);
}

/**
 * The kiss code of a kiss-o'-death packet, or undefined. A KoD has stratum 0 and four ASCII letters
 * (or digits) in the reference id. chronyd's unsynchronised answer (LI=3, stratum 0, refid 0) is not
 * a kiss, and must not be mistaken for one.
 */
export function kissCode(header: Pick<NtpHeader, 'stratum' | 'refId'>): string | undefined {
  if (header.stratum !== 0) return undefined;
  const text = header.refId.toString('latin1').replace(/[\0 ]+$/, '');
  return /^[A-Z][A-Z0-9]{0,3}$/.test(text) ? text : undefined;
}

/** RFC 5905 §7.4 kiss codes, for messages ("kiss DENY: access denied by the server"). */
export const KISS_MEANINGS: Readonly<Record<string, string>> = {
  ACST: 'the association belongs to a unicast server',
  AUTH: 'server authentication failed',
  AUTO: 'autokey sequence failed',
  BCST: 'the association belongs to a broadcast server',
  CRYP: 'cryptographic authentication or identification failed',
  DENY: 'access denied by the server',
  DROP: 'lost peer in symmetric mode',
  RSTR: 'access denied due to local policy',
  INIT: 'the association has not yet synchronised for the first time',
  MCST: 'the association belongs to a dynamically discovered server',
  NKEY: 'no key found',
  RATE: 'rate exceeded: the server asks us to slow down',
  RMOT: 'alteration of association from a remote host running ntpdc',
  STEP: 'a step change in system time has occurred, but the association has not yet resynchronised',
};

/**
 * The 4 reference-id bytes as quoted text with no control bytes in it (it comes from the network and
 * ends up on terminals): printable ASCII as itself, every other byte, quote and backslash as \xHH.
 */
export function quoteRefId(refId: Buffer): string {
  let text = '';
  for (const byte of refId.subarray(0, 4)) {
    const plain = byte >= 0x20 && byte <= 0x7e && byte !== 0x22 && byte !== 0x5c;
    text += plain ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${text}"`;
}

/** Human form of a reference id: ASCII at stratum 0 and 1, dotted quad above (IPv6 servers put a hash there). */
export function formatRefId(refId: Buffer, stratum: number): string {
  if (stratum <= 1) {
    const text = refId.toString('latin1').replace(/\0+$/, '');
    if (/^[\x20-\x7e]*$/.test(text)) return text;
  }
  return Array.from(refId.subarray(0, 4)).join('.');
}

/** Reference id bytes from text: a dotted IPv4 address, or up to four ASCII characters (NUL-padded). */
export function encodeRefId(text: string): Buffer {
  const quad = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) return Buffer.from(quad.slice(1, 5).map((part) => Number(part) & 0xff));
  const buf = Buffer.alloc(4);
  buf.write(text.slice(0, 4), 'latin1');
  return buf;
}

// ---- timestamp conversion -------------------------------------------------------------------------

/** Unix nanoseconds to a raw NTP timestamp (truncated to 64 bits: the era is dropped, as on the wire). */
export function unixNsToNtp(unixNs: bigint): NtpTimestamp {
  const ntpNs = unixNs + NTP_UNIX_EPOCH_DIFF_S * NS_PER_S;
  const seconds = floorDiv(ntpNs, NS_PER_S);
  const remNs = ntpNs - seconds * NS_PER_S;
  // Round the fraction to the nearest 2^-32 s.
  const fraction = (remNs * TWO_32 + NS_PER_S / 2n) / NS_PER_S;
  return BigInt.asUintN(64, seconds * TWO_32 + fraction);
}

/**
 * A raw NTP timestamp to Unix nanoseconds, choosing the era that puts it within 2^31 s (68 years) of
 * `pivotUnixNs`. The pivot is normally the host's "now".
 */
export function ntpToUnixNs(ts: NtpTimestamp, pivotUnixNs: bigint): bigint {
  const raw = BigInt.asUintN(64, ts);
  const seconds32 = raw >> 32n;
  const fraction = raw & (TWO_32 - 1n);
  const pivotNtpS = floorDiv(pivotUnixNs, NS_PER_S) + NTP_UNIX_EPOCH_DIFF_S;
  // Smallest era whose value is >= pivot - 2^31 s.
  const era = ceilDiv(pivotNtpS - TWO_31 - seconds32, TWO_32);
  const ntpSeconds = era * TWO_32 + seconds32;
  const fractionNs = (fraction * NS_PER_S + TWO_31) >> 32n;
  return (ntpSeconds - NTP_UNIX_EPOCH_DIFF_S) * NS_PER_S + fractionNs;
}

/** Unix milliseconds (host wall clock or any UTC instant) to a raw NTP timestamp. */
export function unixMsToNtp(unixMs: number): NtpTimestamp {
  const wholeMs = Math.floor(unixMs);
  const subNs = Math.round((unixMs - wholeMs) * 1e6);
  return unixNsToNtp(BigInt(wholeMs) * 1_000_000n + BigInt(subNs));
}

/** A raw NTP timestamp to Unix milliseconds, era chosen around `pivotUnixMs` (default: host now). */
export function ntpToUnixMs(ts: NtpTimestamp, pivotUnixMs: number = Date.now()): number {
  const unixNs = ntpToUnixNs(ts, BigInt(Math.floor(pivotUnixMs)) * 1_000_000n);
  return nsToMs(unixNs);
}

/** The 32-bit NTP seconds field as year-2000-epoch seconds (what QuecPython's ntptime computes). */
export function ntpSecondsToY2kSeconds(seconds32: number, pivotUnixMs: number = Date.now()): number {
  const unixNs = ntpToUnixNs(BigInt(seconds32) << 32n, BigInt(Math.floor(pivotUnixMs)) * 1_000_000n);
  return Number(floorDiv(unixNs, NS_PER_S) + NTP_UNIX_EPOCH_DIFF_S - NTP_Y2K_EPOCH_DIFF_S);
}

// ---- offset and delay -----------------------------------------------------------------------------

/**
 * a - b for raw timestamps, in 2^-32 s units, as a signed 64-bit difference. Wrapping arithmetic makes
 * this right across an era boundary, as long as the two are within 68 years of each other.
 */
export function ntpDiff(a: NtpTimestamp, b: NtpTimestamp): bigint {
  return BigInt.asIntN(64, a - b);
}

/** 2^-32 s units (any size) to milliseconds, without losing precision to a 53-bit double early. */
export function ntpUnitsToMs(units: bigint): number {
  const seconds = units >> 32n; // floor, also for negatives
  const fraction = units - (seconds << 32n);
  return Number(seconds) * 1000 + (Number(fraction) * 1000) / 2 ** 32;
}

export interface OffsetDelay {
  /** Server clock minus client clock at the middle of the exchange, 2^-32 s units. */
  offsetUnits: bigint;
  /** Round trip minus the server's processing time, 2^-32 s units. */
  delayUnits: bigint;
  offsetMs: number;
  delayMs: number;
}

/**
 * RFC 5905: offset θ = ((T2 - T1) + (T3 - T4)) / 2, positive when the server is ahead;
 * delay δ = (T4 - T1) - (T3 - T2). T1/T4 on the client's clock, T2/T3 on the server's.
 */
export function offsetAndDelay(t1: NtpTimestamp, t2: NtpTimestamp, t3: NtpTimestamp, t4: NtpTimestamp): OffsetDelay {
  const offsetUnits = (ntpDiff(t2, t1) + ntpDiff(t3, t4)) / 2n;
  const delayUnits = ntpDiff(t4, t1) - ntpDiff(t3, t2);
  return { offsetUnits, delayUnits, offsetMs: ntpUnitsToMs(offsetUnits), delayMs: ntpUnitsToMs(delayUnits) };
}

export function nsToMs(ns: bigint): number {
  const wholeMs = floorDiv(ns, 1_000_000n);
  return Number(wholeMs) + Number(ns - wholeMs * 1_000_000n) / 1e6;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}
