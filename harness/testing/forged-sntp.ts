/**
 * Test peer: a loopback SNTP server that answers every request with one reply of a chosen kind, most
 * of them wrong in one way, for the fault-matrix suite. Unlike clock/sntp/server.ts (a good server
 * that can also misbehave), each mode here is exactly one defect, so a test names what it proves:
 *
 * - `good`: a correct reply, host clock, stratum 1, LI 0;
 * - `far-off`: a well-formed reply whose time is `offsetMs` away (default 100 years ahead: read with
 *   the usual ±68-year era window it lands 36 years in the past, the era wrap of issue 8);
 * - `era-wrap`: a time just past the NTP era 0/1 rollover (2036-02-07T06:28:16Z plus the time since
 *   start), so the 32-bit seconds field is near 0: a client without era handling reads 1900;
 * - `zero-transmit`: the transmit timestamp is 0 (RFC 4330: such a reply must be discarded);
 * - `wrong-origin`: the origin timestamp is not the request's transmit (a forged or stale reply);
 * - `kiss-o-death`: stratum 0 with the kiss code in the reference id (default 'RATE'), LI 3;
 * - `unsynchronised`: LI 3 (alarm), otherwise a good reply at stratum 1;
 * - `t2-after-t3`: the receive timestamp 5 s after the transmit timestamp (the server claims it sent
 *   before it received);
 * - `silent`: never answers;
 * - `slow`: a good reply, `delayMs` (default 1000 ms) after the request.
 *
 * With `alsoGenuine`, a good reply follows each forged one, so a client can be shown to ignore the
 * forgery rather than merely to time out.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  decodeNtpPacket,
  encodeNtpHeader,
  encodeRefId,
  Leap,
  NtpMode,
  NTP_HEADER_BYTES,
  unixMsToNtp,
  type NtpHeader,
  type NtpTimestamp,
} from '../clock/sntp/packet.js';

export const FORGED_SNTP_MODES = [
  'good',
  'far-off',
  'era-wrap',
  'zero-transmit',
  'wrong-origin',
  'kiss-o-death',
  'unsynchronised',
  't2-after-t3',
  'silent',
  'slow',
] as const;
export type ForgedSntpMode = (typeof FORGED_SNTP_MODES)[number];

export interface ForgedSntpOptions {
  mode: ForgedSntpMode;
  /** `far-off`: served time minus true time, ms. Default 100 years (365.25-day years). */
  offsetMs?: number;
  /** `slow`: ms from a request to its reply. Default 1000. */
  delayMs?: number;
  /** `kiss-o-death`: the kiss code. Default 'RATE'. */
  kissCode?: string;
  /** Send a good reply after each forged one. Default false. */
  alsoGenuine?: boolean;
}

/** 100 years, ms: the far-off reply of issue 8. */
export const HUNDRED_YEARS_MS = 100 * 365.25 * 86_400_000;
/** 2036-02-07T06:28:16Z, where the NTP seconds field wraps to 0 (era 1 begins). */
export const NTP_ERA_1_UNIX_MS = Date.UTC(2036, 1, 7, 6, 28, 16);
/** How far T2 lies after T3 in `t2-after-t3`. */
const T2_AFTER_T3_MS = 5000;

export class ForgedSntpServer {
  readonly mode: ForgedSntpMode;
  private socket: Socket | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private startedAtMs = 0;
  private requestCount = 0;
  private repliesSent = 0;
  private boundPort = 0;

  constructor(private readonly options: ForgedSntpOptions) {
    if (!(FORGED_SNTP_MODES as readonly string[]).includes(options.mode)) throw new Error(`no forged SNTP mode "${options.mode}"`);
    this.mode = options.mode;
  }

  /** Datagrams received. */
  get requests(): number {
    return this.requestCount;
  }

  /** Datagrams sent (forged and genuine). */
  get replies(): number {
    return this.repliesSent;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Binds 127.0.0.1 on a free port; resolves to `127.0.0.1:<port>` (what `--reference` takes). */
  async start(): Promise<string> {
    if (!this.socket) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      socket.on('error', () => undefined);
      socket.on('message', (message, from) => this.onRequest(message, from));
      this.socket = socket;
      this.boundPort = socket.address().port;
      this.startedAtMs = Date.now();
    }
    return `127.0.0.1:${this.boundPort}`;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private onRequest(message: Buffer, from: RemoteInfo): void {
    this.requestCount += 1;
    if (message.length < NTP_HEADER_BYTES) return;
    let originTs: NtpTimestamp;
    let version: number;
    try {
      const request = decodeNtpPacket(message);
      originTs = request.transmitTs;
      version = request.version >= 1 && request.version <= 4 ? request.version : 4;
    } catch {
      // A request with fields this decoder refuses still gets an answer: only its transmit time matters.
      originTs = message.readBigUInt64BE(40);
      version = 4;
    }
    const receivedMs = Date.now();
    const replies: Buffer[] = [];
    const forged = this.forge(originTs, version, receivedMs);
    if (forged) replies.push(forged);
    if (this.options.alsoGenuine && this.mode !== 'good' && this.mode !== 'slow') replies.push(this.reply(originTs, version, receivedMs, {}));
    const delayMs = this.mode === 'slow' ? (this.options.delayMs ?? 1000) : 0;
    const send = (): void => {
      for (const reply of replies) {
        this.socket?.send(reply, from.port, from.address, () => undefined);
        this.repliesSent += 1;
      }
    };
    if (delayMs <= 0) return send();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      send();
    }, delayMs);
    this.timers.add(timer);
  }

  /** The mode's reply, or undefined for `silent`. */
  private forge(originTs: NtpTimestamp, version: number, receivedMs: number): Buffer | undefined {
    switch (this.mode) {
      case 'good':
      case 'slow':
        return this.reply(originTs, version, receivedMs, {});
      case 'far-off':
        return this.reply(originTs, version, receivedMs, { shiftMs: this.options.offsetMs ?? HUNDRED_YEARS_MS });
      case 'era-wrap':
        return this.reply(originTs, version, receivedMs, { shiftMs: NTP_ERA_1_UNIX_MS + (receivedMs - this.startedAtMs) - receivedMs });
      case 'zero-transmit':
        return this.reply(originTs, version, receivedMs, { transmitTs: 0n });
      case 'wrong-origin':
        // Not the request's transmit time: one second earlier, as a stale or forged reply would carry.
        return this.reply(originTs - (1n << 32n), version, receivedMs, {});
      case 'kiss-o-death':
        return this.reply(originTs, version, receivedMs, { leap: Leap.Unsynchronised, stratum: 0, refId: this.options.kissCode ?? 'RATE' });
      case 'unsynchronised':
        return this.reply(originTs, version, receivedMs, { leap: Leap.Unsynchronised });
      case 't2-after-t3':
        return this.reply(originTs, version, receivedMs, { receiveShiftMs: T2_AFTER_T3_MS });
      case 'silent':
        return undefined;
    }
  }

  private reply(
    originTs: NtpTimestamp,
    version: number,
    receivedMs: number,
    patch: { shiftMs?: number; receiveShiftMs?: number; transmitTs?: NtpTimestamp; leap?: number; stratum?: number; refId?: string },
  ): Buffer {
    const shiftMs = patch.shiftMs ?? 0;
    const transmitMs = Date.now() + shiftMs;
    const header: NtpHeader = {
      leap: patch.leap ?? Leap.None,
      version,
      mode: NtpMode.Server,
      stratum: patch.stratum ?? 1,
      poll: 4,
      precision: -20,
      rootDelayMs: 0,
      rootDispersionMs: 1,
      refId: encodeRefId(patch.refId ?? 'LOCL'),
      referenceTs: unixMsToNtp(transmitMs - 16_000),
      originTs,
      receiveTs: unixMsToNtp(receivedMs + shiftMs + (patch.receiveShiftMs ?? 0)),
      transmitTs: patch.transmitTs ?? unixMsToNtp(transmitMs),
    };
    return encodeNtpHeader(header);
  }
}

/** Starts a forged SNTP server; see ForgedSntpServer. */
export async function startForgedSntp(options: ForgedSntpOptions): Promise<{ server: ForgedSntpServer; address: string }> {
  const server = new ForgedSntpServer(options);
  const address = await server.start();
  return { server, address };
}
