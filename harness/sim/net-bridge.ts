/**
 * The simulated board's TCP sockets, for QuecPython's `usocket` (and `umqtt` over it): the VM's
 * `_qsim.call('usock_*', ...)` lands here, in the board worker, and becomes a Node `net` socket.
 *
 * NETWORK SAFETY: like the board's NTP (ntp.ts), names resolve through the modem's host map only,
 * and only loopback addresses are ever connected to; everything else fails as DNS does. Every wait
 * has its deadline (the caller's timeout, cut short by a Ctrl-C through `signal`), every receive
 * buffer a cap (the socket is paused past it, as TCP's window would close).
 *
 * Also here: `rtc_set`, the setter behind the sim's `machine.RTC().datetime(...)`.
 */
import { connect, type Socket } from 'node:net';
import type { ModemModel } from './modem.js';
import { MICROPYTHON_ERRNO } from './micropython/errno.js';
import { resolveLoopback } from './ntp.js';

const { ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENOTCONN, EMFILE } = MICROPYTHON_ERRNO as Record<'ETIMEDOUT' | 'ECONNREFUSED' | 'EHOSTUNREACH' | 'ENOTCONN' | 'EMFILE', number>;

/** Bytes a socket holds unread before it stops reading from the peer. */
const RECV_BUFFER_CAP_BYTES = 256 * 1024;
/** Bytes one recv hands the VM (hex doubles them in the bridge's 256 KiB answer). */
const MAX_RECV_BYTES = 16 * 1024;
/** Open sockets a board may have at once (QuecPython allows a handful). */
const MAX_SOCKETS = 8;

/** An errno for Python's OSError: the bridge raises OSError(message); usocket reads the number back. */
export class SocketBridgeError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(`[Errno ${errno}] ${message}`);
  }
}

/** QuecPython's getaddrinfo failure. */
const EDNS = 202;

interface BoardSocket {
  socket: Socket;
  chunks: Buffer[];
  buffered: number;
  ended: boolean;
  error?: string;
  /** Wakes a recv waiting for data. */
  wake?: () => void;
}

export class NetBridge {
  private readonly sockets = new Map<number, BoardSocket>();
  private lastId = 0;

  constructor(
    private readonly modem: ModemModel,
    private readonly log: (message: string) => void,
  ) {}

  /** The bridge calls this handles. */
  static readonly CALLS: ReadonlySet<string> = new Set(['usock_resolve', 'usock_connect', 'usock_send', 'usock_recv', 'usock_close', 'rtc_set']);
  /** Those a Ctrl-C on the REPL may cut short. */
  static readonly INTERRUPTIBLE: ReadonlySet<string> = new Set(['usock_connect', 'usock_recv']);

  handles(name: string): boolean {
    return NetBridge.CALLS.has(name);
  }

  async call(name: string, args: unknown[], signal: AbortSignal): Promise<unknown> {
    switch (name) {
      case 'usock_resolve':
        return this.resolve(String(args[0]), Number(args[1]));
      case 'usock_connect':
        return this.connect(String(args[0]), Number(args[1]), Number(args[2]), signal);
      case 'usock_send':
        return this.send(Number(args[0]), String(args[1]));
      case 'usock_recv':
        return this.recv(Number(args[0]), Number(args[1]), Number(args[2]), signal);
      case 'usock_close':
        this.close(Number(args[0]));
        return null;
      case 'rtc_set':
        return this.setRtc(args[0]);
      default:
        throw new SocketBridgeError(22, `unknown call ${name}`);
    }
  }

  /** Closes every socket (board closing or rebooting). */
  closeAll(): void {
    for (const id of [...this.sockets.keys()]) this.close(id);
  }

  private requireNetwork(host: string): void {
    const callUp = [...this.modem.contexts.values()].some((context) => context.active);
    if (!this.modem.registered || !callUp) throw new SocketBridgeError(EDNS, `cannot resolve ${host}: no data call (network ${this.modem.network}, SIM ${this.modem.sim})`);
  }

  private resolve(host: string, port: number): [string, number] {
    this.requireNetwork(host);
    // A name the host map sends to `ip:port` is forwarded whole (the simulated world's broker listens
    // on an ephemeral port, whatever port the scenario names).
    const mapped = this.modem.hosts.get(host);
    const forwarded = mapped !== undefined && /:\d+$/.test(mapped) && !/^[^[]*:.*:/.test(mapped);
    const target = resolveLoopback(this.modem, forwarded ? host : `${host.includes(':') ? `[${host}]` : host}:${port}`);
    if (!target) throw new SocketBridgeError(EDNS, `cannot resolve ${host}: unknown to the simulated board's DNS (loopback only)`);
    return [target.address, target.port];
  }

  private async connect(address: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<number> {
    this.requireNetwork(address);
    const target = resolveLoopback(this.modem, `${address.includes(':') ? `[${address}]` : address}:${port}`);
    if (!target || target.address !== address) throw new SocketBridgeError(EHOSTUNREACH, `${address}: not reachable from the simulated board (loopback only)`);
    if (this.sockets.size >= MAX_SOCKETS) throw new SocketBridgeError(EMFILE, `too many open sockets (${MAX_SOCKETS})`);
    const socket = connect({ host: target.address, port: target.port });
    socket.setNoDelay(true);
    const entry: BoardSocket = { socket, chunks: [], buffered: 0, ended: false };
    await new Promise<void>((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        socket.off('error', onError);
        if (error) {
          socket.destroy();
          reject(error);
        } else resolve();
      };
      const onConnect = (): void => finish();
      const onError = (error: NodeJS.ErrnoException): void =>
        finish(new SocketBridgeError(error.code === 'ECONNREFUSED' ? ECONNREFUSED : EHOSTUNREACH, `connect to ${address}:${port}: ${error.message}`));
      const onAbort = (): void => finish(new SocketBridgeError(ETIMEDOUT, 'connect interrupted'));
      const timer = setTimeout(() => finish(new SocketBridgeError(ETIMEDOUT, `connect to ${address}:${port}: no answer within ${timeoutMs}ms`)), Math.max(1, timeoutMs));
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    socket.on('data', (bytes: Buffer) => {
      entry.chunks.push(bytes);
      entry.buffered += bytes.length;
      if (entry.buffered >= RECV_BUFFER_CAP_BYTES) socket.pause();
      entry.wake?.();
    });
    socket.on('end', () => {
      entry.ended = true;
      entry.wake?.();
    });
    socket.on('error', (error) => {
      entry.error = error.message;
      entry.wake?.();
    });
    socket.on('close', () => {
      entry.ended = true;
      entry.wake?.();
    });
    const id = ++this.lastId;
    this.sockets.set(id, entry);
    return id;
  }

  private entry(id: number): BoardSocket {
    const entry = this.sockets.get(id);
    if (!entry) throw new SocketBridgeError(ENOTCONN, 'socket is closed');
    return entry;
  }

  private send(id: number, hex: string): number {
    const entry = this.entry(id);
    if (entry.error || entry.ended) throw new SocketBridgeError(ENOTCONN, `send on a closed connection${entry.error ? `: ${entry.error}` : ''}`);
    const bytes = Buffer.from(hex, 'hex');
    entry.socket.write(bytes);
    return bytes.length;
  }

  /** Up to `max` bytes as hex; '' at end of stream; null when nothing came within `timeoutMs` (0: do not wait). */
  private async recv(id: number, max: number, timeoutMs: number, signal: AbortSignal): Promise<string | null> {
    const entry = this.entry(id);
    if (entry.buffered === 0 && !entry.ended && !entry.error && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', finish);
          entry.wake = undefined;
          resolve();
        };
        const timer = setTimeout(finish, timeoutMs);
        signal.addEventListener('abort', finish, { once: true });
        entry.wake = finish;
      });
    }
    if (entry.buffered > 0) {
      const all = Buffer.concat(entry.chunks);
      const take = all.subarray(0, Math.max(1, Math.min(max, MAX_RECV_BYTES)));
      const rest = all.subarray(take.length);
      entry.chunks = rest.length > 0 ? [rest] : [];
      entry.buffered = rest.length;
      if (entry.buffered < RECV_BUFFER_CAP_BYTES) entry.socket.resume();
      return take.toString('hex');
    }
    if (entry.error) throw new SocketBridgeError(ENOTCONN, entry.error);
    if (entry.ended) return '';
    return null;
  }

  private close(id: number): void {
    const entry = this.sockets.get(id);
    if (!entry) return;
    this.sockets.delete(id);
    entry.socket.destroy();
  }

  /** `machine.RTC().datetime((year, month, day, weekday, hour, minute, second, subseconds))`: the RTC's wall-clock reading. */
  private setRtc(fields: unknown): number {
    if (!Array.isArray(fields) || fields.length < 7 || !fields.every((field) => Number.isInteger(field))) {
      throw new SocketBridgeError(22, 'RTC.datetime needs (year, month, day, weekday, hour, minute, second[, subseconds])');
    }
    const [year, month, day, , hour, minute, second] = fields as number[];
    const readingMs = Date.UTC(year ?? 2000, (month ?? 1) - 1, day, hour, minute, second);
    if (!Number.isFinite(readingMs)) throw new SocketBridgeError(22, 'RTC.datetime: not a date');
    this.modem.setRtcReadingMs(readingMs);
    this.log(`RTC set to ${new Date(readingMs).toISOString().replace('.000Z', '')}`);
    return 0;
  }
}
