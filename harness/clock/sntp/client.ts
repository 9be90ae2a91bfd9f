/**
 * The SNTP client exchange with one server: several samples, each one request with a random 64-bit
 * nonce as transmit timestamp (the real T1 stays on the host), every reply checked before it is
 * believed. Forged, malformed or implausible replies are ignored and we keep waiting for the genuine
 * one; a genuine reply that says "do not use me" (unsynchronised, kiss-o'-death, too far from its
 * reference) ends that request. A reply bearing the nonce of an earlier request of ours is late (or a
 * duplicate), not forged, and is counted as such.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { formatDurationMs } from '../../core/duration.js';
import { InputError } from '../../core/errors.js';
import type { HostClock } from '../hostclock.js';
import { signNtpPacket, verifyNtpMac } from './auth.js';
import type { SntpKey } from './keys.js';
import {
  decodeNtpPacket,
  encodeNtpHeader,
  formatRefId,
  KISS_MEANINGS,
  kissCode,
  Leap,
  NtpFormatError,
  NtpMode,
  ntpToUnixNs,
  offsetAndDelay,
  quoteRefId,
  unixNsToNtp,
  type NtpPacket,
  type NtpTimestamp,
} from './packet.js';
import { sleep } from '../../core/sleep.js';

export const DEFAULT_NTP_PORT = 123;
/** chrony's default maxdistance: root delay / 2 + root dispersion above this is not believed. */
export const DEFAULT_MAX_ROOT_DISTANCE_MS = 16_000;
/**
 * A server time further than this from the host clock is not believed. The reference measures the
 * host clock's offset from UTC: a host kept by chrony or ntpd is within milliseconds, and even one left
 * unsynchronised for weeks drifts by minutes. A day or more apart, either the server is wrong (an NTP
 * era wrap: a timestamp 136 years off reads as the same second; a stratum-1 box whose GPS lost its week
 * number; a forged reply) or the host clock is (a board computer that booted in 1970): either way no
 * verdict on a board may rest on it, so it is the rig's error, and folding it into a 36-year "offset"
 * would blame the board instead. Configurable for the rare rig that must measure a host far off.
 */
export const DEFAULT_MAX_HOST_OFFSET_MS = 86_400_000;
/** How long to wait for the reply to one request before sending a fresh one. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 1_000;
/** First spacing after a RATE kiss; doubles on each further RATE, up to the cap. */
export const RATE_BACKOFF_INITIAL_MS = 1_000;
export const RATE_BACKOFF_MAX_MS = 64_000;
const DEADLINE_SLACK_MS = 2;
/** A negative delay this small is timestamp granularity, not a bogus server. */
const NEGATIVE_DELAY_TOLERANCE_MS = 0.05;

// ---- server names ---------------------------------------------------------------------------------

export interface ServerSpec {
  /** As the user wrote it. */
  text: string;
  host: string;
  port: number;
}

/** 'host', 'host:port', '[::1]:123', '[::1]', '::1', '127.0.0.1:11123'. */
export function parseServerSpec(text: string): ServerSpec {
  const trimmed = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if ((trimmed.match(/:/g) ?? []).length === 1) {
    [host, portText] = trimmed.split(':') as [string, string];
  } else {
    host = trimmed;
  }
  // A host name never holds brackets; an unbalanced one is a typo of the [IPv6]:port form. Nor control
  // characters: the name is echoed in messages, and must not drive the terminal showing them.
  const quotedText = text.length <= 80 ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, 80))}... (${text.length} characters)`;
  if (host === '' || /[\s[\]\p{Cc}]/u.test(host)) throw new InputError(`bad NTP server ${quotedText}: empty or malformed host`);
  if (bracketed && isIP(host) !== 6) throw new InputError(`bad NTP server ${quotedText}: brackets must hold an IPv6 address`);
  let port = DEFAULT_NTP_PORT;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) throw new InputError(`bad NTP server ${quotedText}: port must be 1-65535`);
  }
  return { text: trimmed, host, port };
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (host: string) => Promise<ResolvedAddress>;

export const systemResolver: Resolver = async (host) => {
  const literal = isIP(host);
  if (literal) return { address: host, family: literal as 4 | 6 };
  const { address, family } = await lookup(host, { verbatim: true });
  return { address, family: family === 6 ? 6 : 4 };
};

// ---- kiss-o'-death memory -------------------------------------------------------------------------

/**
 * What kiss-o'-death packets told us, per server address:port. DENY and RSTR ban the server for the
 * life of this state (the process, by default); RATE sets a minimum spacing between requests.
 */
export interface KissState {
  banned: Map<string, string>;
  spacing: Map<string, { minIntervalMs: number; lastSentMonoMs: number }>;
}

export function createKissState(): KissState {
  return { banned: new Map(), spacing: new Map() };
}

/** Shared by every query in this process unless a caller injects its own. */
export const processKissState: KissState = createKissState();

// ---- judging one reply ----------------------------------------------------------------------------

export interface Expectation {
  address: string;
  port: number;
  /** The random transmit timestamp we sent; the reply's origin must equal it exactly. */
  nonce: NtpTimestamp;
  key?: SntpKey;
  maxRootDistanceMs: number;
  /** A server time further than this from the host clock is implausible (DEFAULT_MAX_HOST_OFFSET_MS). */
  maxHostOffsetMs: number;
}

export interface SntpSample {
  offsetMs: number;
  delayMs: number;
  /** delay / 2 + the server's root distance + its precision: the true offset lies within ± this. */
  uncertaintyMs: number;
  /** Host wall clock (Unix ns, monotonic-based) when the request left and the reply arrived. */
  t1HostNs: bigint;
  t4HostNs: bigint;
  stratum: number;
  refId: string;
  leap: number;
  version: number;
  rootDelayMs: number;
  rootDispersionMs: number;
  precisionLog2: number;
}

export type ReplyVerdict =
  /**
   * Not a usable answer to our request (forged, stale, malformed, an implausible time): keep waiting.
   * `reason` is short, for counting; `detail`, when set, is the full account, reported as the server's
   * reason if no usable reply comes.
   */
  | { kind: 'ignore'; reason: string; detail?: string }
  /** The genuine answer, saying not to use it: this request is over. */
  | { kind: 'reject'; reason: string; kiss?: string }
  | { kind: 'sample'; sample: SntpSample };

/**
 * Judges one datagram against the request it may answer. Pure: T1 and T4 are host wall-clock
 * instants (Unix ns) taken by the caller right before sending and right on receipt.
 */
export function judgeReply(
  datagram: Buffer,
  from: { address: string; port: number },
  expected: Expectation,
  t1HostNs: bigint,
  t4HostNs: bigint,
): ReplyVerdict {
  const proof = proveAnswer(datagram, from, expected);
  if (proof.kind === 'ignore') return proof;
  const { packet } = proof;

  // Then what the genuine server says about itself: "do not use me" ends this request.
  const kiss = kissCode(packet);
  if (kiss !== undefined) return { kind: 'reject', reason: `kiss ${kiss}`, kiss };
  if (packet.receiveTs === 0n || packet.transmitTs === 0n) return { kind: 'ignore', reason: 'zero timestamp' };
  if (packet.leap === Leap.Unsynchronised) return { kind: 'reject', reason: 'unsynchronised (LI=3)' };
  if (packet.stratum === 0 && packet.refId.some((byte) => byte !== 0)) {
    // Stratum 0 is a kiss-o'-death, but this code is no kiss code: say what it was, escaped.
    return { kind: 'reject', reason: `unsynchronised (stratum 0, refid ${quoteRefId(packet.refId)} is no kiss code)` };
  }
  if (packet.stratum === 0 || packet.stratum >= 16) {
    return { kind: 'reject', reason: `unsynchronised (stratum ${packet.stratum})` };
  }
  const rootDistanceMs = packet.rootDelayMs / 2 + packet.rootDispersionMs;
  if (rootDistanceMs > expected.maxRootDistanceMs) {
    return {
      kind: 'reject',
      reason: `root distance ${rootDistanceMs.toFixed(0)} ms exceeds ${expected.maxRootDistanceMs} ms`,
    };
  }

  // Then its timestamps, each read in the NTP era nearest the host clock (RFC 5905 §6, RFC 4330 §3),
  // so a reply across the 2036 wrap converts right; one far from the host is refused, never folded.
  const t2ServerNs = ntpToUnixNs(packet.receiveTs, t1HostNs);
  const t3ServerNs = ntpToUnixNs(packet.transmitTs, t4HostNs);
  const farthest = [t2ServerNs - t1HostNs, t3ServerNs - t4HostNs].reduce((a, b) => (abs(a) >= abs(b) ? a : b));
  const farthestMs = Number(farthest / 1_000_000n);
  if (Math.abs(farthestMs) > expected.maxHostOffsetMs) {
    // Ignored, not rejected: unlike a kiss or LI=3 the server did not say "do not use me", and it may
    // be a forgery bearing our nonce (an on-path forger sees it) ahead of the genuine reply.
    const serverTimeNs = farthest === t2ServerNs - t1HostNs ? t2ServerNs : t3ServerNs;
    return {
      kind: 'ignore',
      reason: 'implausible time',
      detail:
        `implausible time: the server says ${new Date(Number(serverTimeNs / 1_000_000n)).toISOString()}, ` +
        `${formatSpanMs(Math.abs(farthestMs))} ${farthestMs < 0 ? 'behind' : 'ahead of'} the host clock, beyond the ` +
        `${formatSpanMs(expected.maxHostOffsetMs)} plausibility bound (NTP time repeats every 136 years: ` +
        'a wrong era, a broken server clock, or a host clock that is far off)',
    };
  }
  if (t3ServerNs < t2ServerNs) return { kind: 'ignore', reason: 'transmit before receive' };
  const t1 = unixNsToNtp(t1HostNs);
  const t4 = unixNsToNtp(t4HostNs);
  const { offsetMs, delayMs: rawDelayMs } = offsetAndDelay(t1, packet.receiveTs, packet.transmitTs, t4);
  if (rawDelayMs < -NEGATIVE_DELAY_TOLERANCE_MS) return { kind: 'ignore', reason: 'negative delay' };
  const delayMs = Math.max(0, rawDelayMs);
  const precisionMs = 2 ** packet.precision * 1000;
  return {
    kind: 'sample',
    sample: {
      offsetMs,
      delayMs,
      uncertaintyMs: delayMs / 2 + rootDistanceMs + precisionMs,
      t1HostNs,
      t4HostNs,
      stratum: packet.stratum,
      refId: formatRefId(packet.refId, packet.stratum),
      leap: packet.leap,
      version: packet.version,
      rootDelayMs: packet.rootDelayMs,
      rootDispersionMs: packet.rootDispersionMs,
      precisionLog2: packet.precision,
    },
  };
}

const ORIGIN_MISMATCH = 'origin mismatch';

/**
 * What proves a datagram answers the request `expected` describes (anyone can send a packet; only the
 * server saw our nonce): its source, its origin, its MAC when we signed, a server reply in a version we
 * speak. A datagram that fails these is ignored, and we keep waiting for the genuine one.
 */
function proveAnswer(
  datagram: Buffer,
  from: { address: string; port: number },
  expected: Pick<Expectation, 'address' | 'port' | 'nonce' | 'key'>,
): { kind: 'answer'; packet: NtpPacket } | { kind: 'ignore'; reason: string } {
  if (from.address !== expected.address || from.port !== expected.port) {
    return { kind: 'ignore', reason: 'wrong source' };
  }
  let packet: NtpPacket;
  try {
    packet = decodeNtpPacket(datagram);
  } catch (error) {
    if (error instanceof NtpFormatError) return { kind: 'ignore', reason: 'malformed' };
    throw error;
  }
  if (packet.originTs !== expected.nonce) return { kind: 'ignore', reason: ORIGIN_MISMATCH };
  if (expected.key) {
    // Only a reply signed with the key we asked with counts; anything else could be anyone's.
    const check = verifyNtpMac(datagram, [expected.key]);
    if (!check.ok) return { kind: 'ignore', reason: check.reason };
  }
  if (packet.mode !== NtpMode.Server) return { kind: 'ignore', reason: `mode ${packet.mode} (not a server reply)` };
  // RFC 4330 §5: a client accepts v3 and v4 replies; anything else is not the protocol we spoke.
  if (packet.version !== 3 && packet.version !== 4) {
    return { kind: 'ignore', reason: `version ${packet.version} (not NTPv3 or v4)` };
  }
  return { kind: 'answer', packet };
}

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const YEAR_MS = 365.25 * DAY_MS;

/** "36.1 years", "2.5 days", "1 day", "1.5 h", "4m05s": spans from milliseconds to eras, for messages. */
export function formatSpanMs(ms: number): string {
  if (ms >= YEAR_MS) return `${(ms / YEAR_MS).toFixed(1)} years`;
  if (ms === DAY_MS) return '1 day';
  if (ms >= DAY_MS) return ms % DAY_MS === 0 ? `${ms / DAY_MS} days` : `${(ms / DAY_MS).toFixed(1)} days`;
  if (ms >= HOUR_MS) return `${(ms / HOUR_MS).toFixed(1)} h`;
  return formatDurationMs(ms);
}

/** A client request: v4, mode 3, everything zero but the nonce in the transmit field. */
export function buildRequest(nonce: NtpTimestamp, key?: SntpKey): Buffer {
  const header = encodeNtpHeader({
    leap: 0,
    version: 4,
    mode: NtpMode.Client,
    stratum: 0,
    poll: 0,
    precision: -20,
    rootDelayMs: 0,
    rootDispersionMs: 0,
    refId: Buffer.alloc(4),
    referenceTs: 0n,
    originTs: 0n,
    receiveTs: 0n,
    transmitTs: nonce,
  });
  return key ? signNtpPacket(header, key) : header;
}

function randomNonce(previous: NtpTimestamp | undefined): NtpTimestamp {
  for (;;) {
    const nonce = randomBytes(8).readBigUInt64BE();
    if (nonce !== 0n && nonce !== previous) return nonce;
  }
}

// ---- one server -----------------------------------------------------------------------------------

export interface ServerQueryOptions {
  samples: number;
  /** performance.now() value after which nothing more is sent or awaited. */
  deadlineMonoMs: number;
  key?: SntpKey;
  maxRootDistanceMs: number;
  maxHostOffsetMs: number;
  requestTimeoutMs: number;
  clock: HostClock;
  kissState: KissState;
  resolver: Resolver;
  signal?: AbortSignal;
}

export interface ServerQueryOutcome {
  server: string;
  address?: string;
  port: number;
  samples: SntpSample[];
  /** Set when no usable sample came back. */
  reason?: string;
  detail?: string;
  requestsSent: number;
  /** Datagrams that were not the genuine answer, by why. */
  ignored: Record<string, number>;
}


/**
 * Resolves a name, giving up at the deadline or on abort (dns.lookup cannot be cancelled; we just stop
 * waiting for it).
 */
async function resolveWithDeadline(
  resolver: Resolver,
  host: string,
  deadlineMonoMs: number,
  signal: AbortSignal | undefined,
): Promise<ResolvedAddress> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`name lookup timed out`)),
      Math.max(0, deadlineMonoMs - performance.now()),
    );
    onAbort = () => reject(new Error('name lookup abandoned: the query was stopped'));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([resolver(host), timeout]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

type AttemptResult = Exclude<ReplyVerdict, { kind: 'ignore' }> | { kind: 'timeout' } | { kind: 'error'; reason: string };

export async function queryServer(spec: ServerSpec, opts: ServerQueryOptions): Promise<ServerQueryOutcome> {
  const outcome: ServerQueryOutcome = {
    server: spec.text,
    port: spec.port,
    samples: [],
    requestsSent: 0,
    ignored: {},
  };
  const fail = (reason: string, detail?: string): ServerQueryOutcome => {
    outcome.reason = reason;
    if (detail) outcome.detail = detail;
    return outcome;
  };

  let resolved: ResolvedAddress;
  try {
    resolved = await resolveWithDeadline(opts.resolver, spec.host, opts.deadlineMonoMs, opts.signal);
  } catch (error) {
    if (opts.signal?.aborted) return fail('aborted', `while looking up ${spec.host}`);
    return fail('cannot resolve', `${spec.host}: ${error instanceof Error ? error.message : String(error)}`);
  }
  outcome.address = resolved.address;
  const kissKey = `${resolved.address}:${spec.port}`;
  const banned = opts.kissState.banned.get(kissKey);
  if (banned) return fail(`kiss ${banned}`, 'the server told us earlier not to ask again');

  const socket = createSocket({ type: resolved.family === 6 ? 'udp6' : 'udp4' });
  let pending: ((result: AttemptResult) => void) | undefined;
  let expectation: Expectation | undefined;
  let t1HostNs = 0n;
  // Every nonce sent in this query and how its request ended, so that a reply to an earlier request
  // (a slow server or path) is told from a forgery: only the server saw our nonces.
  const earlierRequests = new Map<NtpTimestamp, 'answered' | 'given up'>();
  const settle = (result: AttemptResult) => {
    const resolve = pending;
    pending = undefined;
    // Recorded here, not after the await: the next datagram may be read before the loop resumes.
    if (resolve && expectation) {
      earlierRequests.set(expectation.nonce, result.kind === 'sample' || result.kind === 'reject' ? 'answered' : 'given up');
    }
    resolve?.(result);
  };
  const countIgnored = (reason: string) => {
    outcome.ignored[reason] = (outcome.ignored[reason] ?? 0) + 1;
  };
  const lateReason = `late (after the ${opts.requestTimeoutMs} ms request timeout)`;
  let lateReplies = 0;
  const earlierAnswered = (datagram: Buffer, rinfo: RemoteInfo): string | undefined => {
    let originTs: NtpTimestamp;
    try {
      originTs = decodeNtpPacket(datagram).originTs;
    } catch {
      return undefined;
    }
    const ended = earlierRequests.get(originTs);
    if (!ended) return undefined;
    const proof = proveAnswer(datagram, rinfo, { address: resolved.address, port: spec.port, nonce: originTs, ...(opts.key ? { key: opts.key } : {}) });
    if (proof.kind !== 'answer') return undefined;
    if (ended === 'answered') return 'duplicate'; // RFC 5905 §8: a second reply to one request
    lateReplies++;
    return lateReason;
  };
  let lastImplausible: string | undefined;
  socket.on('message', (datagram: Buffer, rinfo: RemoteInfo) => {
    const t4HostNs = opts.clock.nowNs(); // first thing: every microsecond here biases the offset
    if (!pending || !expectation) return countIgnored(earlierAnswered(datagram, rinfo) ?? 'unsolicited');
    const verdict = judgeReply(datagram, rinfo, expectation, t1HostNs, t4HostNs);
    if (verdict.kind === 'ignore') {
      if (verdict.reason === ORIGIN_MISMATCH) return countIgnored(earlierAnswered(datagram, rinfo) ?? verdict.reason);
      if (verdict.detail) lastImplausible = verdict.detail;
      return countIgnored(verdict.reason);
    }
    settle(verdict);
  });
  socket.on('error', (error) => settle({ kind: 'error', reason: error.message }));

  let lastRejection: string | undefined;
  let lastKiss: string | undefined;
  let lastError: string | undefined;
  let genuineReplies = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    let nonce: NtpTimestamp | undefined;
    let answered = 0;
    while (answered < opts.samples && !opts.signal?.aborted) {
      const spacing = opts.kissState.spacing.get(kissKey);
      const notBeforeMonoMs = spacing ? spacing.lastSentMonoMs + spacing.minIntervalMs : 0;
      if (notBeforeMonoMs >= opts.deadlineMonoMs) {
        lastRejection ??= 'kiss RATE';
        break;
      }
      await sleep(notBeforeMonoMs - performance.now(), opts.signal);
      const remainingMs = opts.deadlineMonoMs - performance.now();
      // Node's timers run on a millisecond loop clock and may fire up to ~1 ms early: a timer set for
      // the deadline can leave a sliver of time that is no use to anyone.
      if (remainingMs <= DEADLINE_SLACK_MS || opts.signal?.aborted) break;

      nonce = randomNonce(nonce);
      expectation = {
        address: resolved.address,
        port: spec.port,
        nonce,
        maxRootDistanceMs: opts.maxRootDistanceMs,
        maxHostOffsetMs: opts.maxHostOffsetMs,
        ...(opts.key ? { key: opts.key } : {}),
      };
      const request = buildRequest(nonce, opts.key);
      const result = new Promise<AttemptResult>((resolve) => {
        pending = resolve;
      });
      const timer = setTimeout(() => settle({ kind: 'timeout' }), Math.min(opts.requestTimeoutMs, remainingMs));
      const onAbort = () => settle({ kind: 'timeout' });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (spacing) spacing.lastSentMonoMs = performance.now();
      t1HostNs = opts.clock.nowNs();
      socket.send(request, spec.port, resolved.address, (error) => {
        if (error) settle({ kind: 'error', reason: error.message });
      });
      outcome.requestsSent++;
      const verdict = await result;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      expectation = undefined;

      if (verdict.kind === 'timeout') continue;
      if (verdict.kind === 'error') {
        lastError = verdict.reason;
        // A send error (e.g. no route) will not heal within one query: wait out the request timeout.
        await sleep(Math.min(opts.requestTimeoutMs, opts.deadlineMonoMs - performance.now()), opts.signal);
        continue;
      }
      answered++;
      genuineReplies++;
      if (verdict.kind === 'sample') {
        outcome.samples.push(verdict.sample);
        continue;
      }
      lastRejection = verdict.reason;
      lastKiss = verdict.kiss;
      if (verdict.kiss === 'DENY' || verdict.kiss === 'RSTR') {
        opts.kissState.banned.set(kissKey, verdict.kiss);
        break;
      }
      if (verdict.kiss === 'RATE') {
        const previous = opts.kissState.spacing.get(kissKey);
        const minIntervalMs = Math.min(
          RATE_BACKOFF_MAX_MS,
          Math.max(RATE_BACKOFF_INITIAL_MS, (previous?.minIntervalMs ?? 0) * 2),
        );
        opts.kissState.spacing.set(kissKey, { minIntervalMs, lastSentMonoMs: performance.now() });
      }
    }
  } catch (error) {
    lastError = error instanceof Error ? error.message : String(error);
  } finally {
    settle({ kind: 'timeout' });
    await closeSocket(socket);
  }

  if (outcome.samples.length > 0) return outcome;
  const ignoredText = Object.entries(outcome.ignored)
    .map(([reason, count]) => `${count} ${reason}`)
    .join(', ');
  const kissMeaning = lastKiss ? KISS_MEANINGS[lastKiss] : undefined;
  const detail =
    (lastKiss ? `kiss-o'-death ${lastKiss}${kissMeaning ? `: ${kissMeaning}` : ''}; ` : '') +
    `${outcome.requestsSent} request(s) to ${resolved.address} port ${spec.port}` +
    (ignoredText ? `; ignored replies: ${ignoredText}` : '') +
    (lastError ? `; socket error: ${lastError}` : '');
  if (opts.signal?.aborted) return fail('aborted', detail);
  if (lastRejection) return fail(lastRejection, detail);
  if (lastImplausible) return fail(lastImplausible, detail);
  // The server did answer (with our nonce, and our key when we sign), only too late for the request:
  // say so, not "no believable reply", which is what a forger gets.
  if (lateReplies > 0) return fail(`too slow: its replies came after the ${opts.requestTimeoutMs} ms request timeout`, detail);
  if (opts.key && genuineReplies === 0) return fail('no authenticated reply', detail);
  // Replies came, but none proved itself the answer to our request (see judgeReply): say so, not "no reply".
  if (Object.keys(outcome.ignored).some((reason) => reason !== 'unsolicited')) return fail('no believable reply', detail);
  return fail('no reply', detail);
}
