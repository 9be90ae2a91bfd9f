/**
 * A small SNTP server for the simulated board, the demo and the tests. It serves the host clock plus
 * `offsetMs`, answers v3 (`0x1b`, as QuecPython's ntptime sends) and v4 requests, speaks symmetric-key
 * auth like chrony (bad or unknown MACs are dropped silently), and can misbehave on purpose: kiss-o'-
 * death, unsynchronised, lost or delayed replies, and forged replies sent ahead of the genuine one.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { hostClock } from '../hostclock.js';
import { signNtpPacket, verifyNtpMac } from './auth.js';
import type { SntpKey } from './keys.js';
import {
  decodeNtpPacket,
  encodeNtpHeader,
  encodeRefId,
  Leap,
  NTP_HEADER_BYTES,
  NtpMode,
  unixNsToNtp,
  type NtpHeader,
  type NtpPacket,
  type NtpTimestamp,
} from './packet.js';

/**
 * Forged replies, each carrying a time `forgedOffsetMs` away from the genuine one, so a client that
 * believed one would be visibly wrong. 'wrong-port' is a correct-looking reply from another port;
 * 'bad-mac' and 'unsigned' only apply to signed requests.
 */
export type ForgedReply = 'wrong-origin' | 'wrong-port' | 'mode3' | 'zero-transmit' | 'zero-receive' | 'bad-mac' | 'unsigned';

export interface SntpServerOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Served time = host wall clock + offsetMs. */
  offsetMs?: number;
  /** Default 1. */
  stratum?: number;
  /** Default 0; 3 = unsynchronised. */
  leap?: number;
  /** ASCII (stratum 0/1) or dotted IPv4; default 'LOCL'. */
  refId?: string;
  /** Answer every request with this kiss-o'-death instead of the time. */
  kiss?: 'DENY' | 'RSTR' | 'RATE';
  /** true: never answer; a number: the probability of not answering. */
  drop?: boolean | number;
  /** Simulated symmetric network delay, half before T2 and half after T3; an array cycles per request. */
  delayMs?: number | number[];
  /** Shorthand for forge: ['wrong-origin']. */
  forgeOrigin?: boolean;
  forge?: ForgedReply[];
  /** Default one hour. */
  forgedOffsetMs?: number;
  /** Keys it knows. Signed requests with a good MAC get a signed reply; bad or unknown MACs are dropped. */
  keys?: SntpKey[];
  /** Drop unsigned requests too (chrony serves them; default false). */
  requireAuth?: boolean;
  /** Ignore MACs and answer unsigned, as a server without authentication support would. */
  ignoreAuth?: boolean;
  rootDelayMs?: number;
  rootDispersionMs?: number;
  /** log2 seconds; default -20 (about a microsecond). */
  precision?: number;
}

export interface SntpServer {
  readonly address: string;
  readonly port: number;
  configure(patch: Partial<SntpServerOptions>): void;
  close(): Promise<void>;
  /** Datagrams received, answered or not. */
  readonly requests: number;
}

const DEFAULT_FORGED_OFFSET_MS = 3_600_000;
/** Re-check the served clock against Date.now() this often, so a host clock step shows through. */
const REANCHOR_INTERVAL_MS = 10_000;

function bindSocket(socket: Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

export async function startSntpServer(initial: SntpServerOptions = {}): Promise<SntpServer> {
  let options: SntpServerOptions = { ...initial };
  const host = options.host ?? '127.0.0.1';
  const type = isIP(host) === 6 ? 'udp6' : 'udp4';
  const socket = createSocket({ type });
  await bindSocket(socket, options.port ?? 0, host);
  const clock = hostClock;
  let anchoredAtMs = Date.now();
  let requests = 0;
  let closed = false;
  let forgerSocket: Socket | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const later = (delayMs: number, action: () => void) => {
    if (delayMs <= 0) return action();
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) action();
    }, delayMs);
    timers.add(timer);
  };

  const servedNow = (): NtpTimestamp => {
    const offsetNs = BigInt(Math.round((options.offsetMs ?? 0) * 1e6));
    return unixNsToNtp(clock.nowNs() + offsetNs);
  };

  const send = (target: Socket, packet: Buffer, to: RemoteInfo) => {
    if (closed) return;
    target.send(packet, to.port, to.address, () => {
      /* a lost reply is what UDP does; the client copes */
    });
  };

  const forgerFor = async (): Promise<Socket> => {
    if (!forgerSocket) {
      forgerSocket = createSocket({ type });
      await bindSocket(forgerSocket, 0, host);
    }
    return forgerSocket;
  };

  const answer = (request: NtpPacket, key: SntpKey | undefined, from: RemoteInfo, delayMs: number) => {
    const version = request.version >= 1 && request.version <= 4 ? request.version : 4;
    const sign = (header: NtpHeader): Buffer => {
      const bytes = encodeNtpHeader(header);
      return key ? signNtpPacket(bytes, key) : bytes;
    };
    const base: Omit<NtpHeader, 'receiveTs' | 'transmitTs'> = {
      leap: options.leap ?? Leap.None,
      version,
      mode: NtpMode.Server,
      stratum: options.stratum ?? 1,
      poll: request.poll,
      precision: options.precision ?? -20,
      rootDelayMs: options.rootDelayMs ?? 0,
      rootDispersionMs: options.rootDispersionMs ?? 0,
      refId: encodeRefId(options.refId ?? 'LOCL'),
      referenceTs: 0n,
      originTs: request.transmitTs,
    };

    if (options.kiss) {
      // As ntpd does: a KoD echoes the client's transmit timestamp everywhere; its "time" is garbage.
      send(
        socket,
        sign({
          ...base,
          leap: Leap.Unsynchronised,
          stratum: 0,
          refId: encodeRefId(options.kiss),
          receiveTs: request.transmitTs,
          transmitTs: request.transmitTs,
        }),
        from,
      );
      return;
    }

    later(delayMs / 2, () => {
      const receiveTs = servedNow();
      const forgedShift = BigInt(Math.round(((options.forgedOffsetMs ?? DEFAULT_FORGED_OFFSET_MS) / 1000) * 2 ** 32));
      const forgedTs = BigInt.asUintN(64, receiveTs + forgedShift);
      const forged: ForgedReply[] = [...(options.forge ?? []), ...(options.forgeOrigin ? ['wrong-origin' as const] : [])];
      const referenceTs = BigInt.asUintN(64, receiveTs - (16n << 32n));
      const forgeries: Array<{ socket: 'main' | 'forger'; bytes: Buffer }> = [];
      for (const kind of forged) {
        const fake: NtpHeader = { ...base, referenceTs, receiveTs: forgedTs, transmitTs: forgedTs };
        switch (kind) {
          case 'wrong-origin':
            forgeries.push({ socket: 'main', bytes: sign({ ...fake, originTs: BigInt.asUintN(64, request.transmitTs ^ 1n) }) });
            break;
          case 'wrong-port':
            forgeries.push({ socket: 'forger', bytes: sign(fake) });
            break;
          case 'mode3':
            forgeries.push({ socket: 'main', bytes: sign({ ...fake, mode: NtpMode.Client }) });
            break;
          case 'zero-transmit':
            forgeries.push({ socket: 'main', bytes: sign({ ...fake, transmitTs: 0n }) });
            break;
          case 'zero-receive':
            forgeries.push({ socket: 'main', bytes: sign({ ...fake, receiveTs: 0n }) });
            break;
          case 'bad-mac':
            if (key) {
              const bytes = sign(fake);
              bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
              forgeries.push({ socket: 'main', bytes });
            }
            break;
          case 'unsigned':
            if (key) forgeries.push({ socket: 'main', bytes: encodeNtpHeader(fake) });
            break;
        }
      }
      const sendAll = async () => {
        for (const forgery of forgeries) {
          send(forgery.socket === 'forger' ? await forgerFor() : socket, forgery.bytes, from);
        }
        const genuine = sign({ ...base, referenceTs, receiveTs, transmitTs: servedNow() });
        later(delayMs / 2, () => send(socket, genuine, from));
      };
      sendAll().catch(() => {
        /* the forger socket failed to bind: the genuine reply still matters more */
      });
    });
  };

  socket.on('message', (datagram: Buffer, from: RemoteInfo) => {
    requests++;
    if (Date.now() - anchoredAtMs > REANCHOR_INTERVAL_MS) {
      clock.refresh();
      anchoredAtMs = Date.now();
    }
    let request: NtpPacket;
    try {
      request = decodeNtpPacket(datagram);
    } catch {
      return;
    }
    if (request.mode !== NtpMode.Client) return;
    const drop = options.drop;
    if (drop === true || (typeof drop === 'number' && Math.random() < drop)) return;
    let key: SntpKey | undefined;
    if (datagram.length > NTP_HEADER_BYTES && !options.ignoreAuth) {
      const check = verifyNtpMac(datagram, options.keys ?? []);
      if (!check.ok) return; // like chrony: no answer at all, so a prober learns nothing
      key = check.key;
    } else if (options.requireAuth) {
      return;
    }
    const delays = options.delayMs ?? 0;
    const delayMs = Array.isArray(delays) ? (delays[(requests - 1) % Math.max(1, delays.length)] ?? 0) : delays;
    answer(request, key, from, delayMs);
  });
  socket.on('error', () => {
    /* per-datagram errors (e.g. ICMP unreachable) must not kill the server */
  });

  const bound = socket.address();
  return {
    address: bound.address,
    port: bound.port,
    get requests() {
      return requests;
    },
    configure(patch) {
      options = { ...options, ...patch };
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await closeSocket(socket);
      if (forgerSocket) await closeSocket(forgerSocket);
    },
  };
}
