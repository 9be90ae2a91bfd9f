import { connect, type Socket } from 'node:net';
import { InfrastructureError, LinkClosedError } from '../core/errors.js';
import { LinkEvents, type Link } from './link.js';
import { procNetTcp, type ProcNetTcp, type TcpEndpoints } from './tcp-health.js';

export interface TcpLinkOptions {
  /** Deadline for the connection to be made (host monotonic). */
  connectDeadlineMs?: number;
  /** Deadline for a write to be taken by the kernel; a far end that stopped reading never takes it. */
  writeDeadlineMs?: number;
  /** Idle time before the first keepalive probe: a far end that vanished without FIN answers none. */
  keepAliveInitialDelayMs?: number;
  /**
   * How long sent bytes (or a keepalive probe) may go unacknowledged, the kernel retransmitting,
   * before the link counts the far end as gone. Where the kernel's table cannot be read (not Linux)
   * only keepalive's own, much slower, give-up applies.
   */
  ackDeadlineMs?: number;
  /** How often (host monotonic) the acknowledgement check runs. */
  healthIntervalMs?: number;
  /** Where the kernel's view of connections comes from (tests give a fake). */
  connections?: Pick<ProcNetTcp, 'state'>;
}

/** A raw serial-over-TCP port (`tcp://host:port`, as ser2net serves it): bytes as they are, no telnet. */
export class TcpLink implements Link {
  private readonly events = new LinkEvents();
  private readonly writeDeadlineMs: number;

  constructor(
    readonly address: string,
    private readonly socket: Socket,
    options: TcpLinkOptions = {},
  ) {
    this.writeDeadlineMs = options.writeDeadlineMs ?? 1000;
    socket.setNoDelay(true);
    // Node sets only the idle time; the probe interval and count stay the kernel's (75 s x 9 on
    // Linux), so the acknowledgement check below is what notices an unanswered probe in seconds.
    socket.setKeepAlive(true, options.keepAliveInitialDelayMs ?? 1000);
    socket.on('data', (bytes: Buffer) => this.events.emitData(bytes));
    socket.on('error', (error) => this.vanish(`connection error: ${error.message}`));
    socket.on('close', () => this.events.emitClose(new LinkClosedError(address, 'the far end closed the connection')));
    const health = new AckCheck(
      socket,
      options.connections ?? procNetTcp,
      options.ackDeadlineMs ?? 2000,
      options.healthIntervalMs ?? 250,
      (reason) => this.vanish(reason),
    );
    this.events.onClose(() => health.stop());
  }

  static async open(address: string, options: TcpLinkOptions = {}): Promise<TcpLink> {
    const { host, port } = parseTcpAddress(address);
    const connectDeadlineMs = options.connectDeadlineMs ?? 5000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new InfrastructureError(`cannot connect to ${address}: no answer within ${connectDeadlineMs}ms`));
      }, connectDeadlineMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new InfrastructureError(`cannot connect to ${address}: ${error.message}`));
      });
    });
    return new TcpLink(address, socket, options);
  }

  get closed(): boolean {
    return this.events.closed;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.events.closed) {
      return Promise.reject(this.events.error ?? new LinkClosedError(this.address, 'connection is closed'));
    }
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stopWatchingClose();
        if (error) reject(error);
        else resolve();
      };
      const stopWatchingClose = this.events.onClose((error) =>
        settle(error ?? new LinkClosedError(this.address, 'connection closed during write')),
      );
      // A far end that stopped reading fills the socket buffers and the callback never comes; one
      // that reads slowly (ser2net at 9600 baud) keeps taking bytes, so the deadline is for no progress.
      let queuedBytes = 0;
      const stalled = (): void => {
        if (this.socket.writableLength < queuedBytes) {
          queuedBytes = this.socket.writableLength;
          timer = setTimeout(stalled, this.writeDeadlineMs);
          return;
        }
        const reason = `write not taken for ${this.writeDeadlineMs}ms (the far end stopped reading)`;
        settle(new LinkClosedError(this.address, reason));
        this.vanish(reason);
      };
      let timer = setTimeout(stalled, this.writeDeadlineMs);
      this.socket.write(Buffer.from(bytes), (error) => {
        if (error) settle(new LinkClosedError(this.address, `write failed: ${error.message}`));
        else settle();
      });
      queuedBytes = this.socket.writableLength;
    });
  }

  onData(listener: (bytes: Buffer) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (error: LinkClosedError | undefined) => void): () => void {
    return this.events.onClose(listener);
  }

  async close(): Promise<void> {
    this.events.emitClose(undefined);
    this.socket.destroy();
  }

  private vanish(reason: string): void {
    this.events.emitClose(new LinkClosedError(this.address, reason));
    this.socket.destroy();
  }
}

/**
 * Notices a far end that vanished without FIN or RST (a ser2net host that lost power, a pulled
 * cable): the kernel keeps retransmitting unacknowledged bytes for about 15 minutes
 * (tcp_retries2), and Node cannot set TCP_USER_TIMEOUT or the keepalive interval. So the link
 * reads the kernel's own view of its connection and gives up when bytes or a keepalive probe have
 * gone unacknowledged for `ackDeadlineMs`. One unref'd timer, never holding the process.
 */
class AckCheck {
  private readonly timer: NodeJS.Timeout;
  private pending = false;
  private stopped = false;
  private unansweredSinceMs: number | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly connections: Pick<ProcNetTcp, 'state'>,
    private readonly ackDeadlineMs: number,
    intervalMs: number,
    private readonly onGone: (reason: string) => void,
  ) {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private check(): void {
    const endpoints = this.endpoints();
    if (this.stopped || this.pending || !endpoints) return;
    this.pending = true;
    this.connections.state(endpoints).then(
      (state) => {
        this.pending = false;
        if (this.stopped || !state) return;
        const retransmitting = state.timer === 1 && state.retransmits > 0 && state.unacknowledgedBytes > 0;
        const probeUnanswered = state.timer === 2 && state.probesUnanswered > 0;
        if (!retransmitting && !probeUnanswered) {
          this.unansweredSinceMs = undefined;
          return;
        }
        const nowMs = performance.now();
        this.unansweredSinceMs ??= nowMs;
        if (nowMs - this.unansweredSinceMs < this.ackDeadlineMs) return;
        this.stop();
        const what = retransmitting ? `${state.unacknowledgedBytes} sent bytes` : 'a keepalive probe';
        this.onGone(
          `the far end acknowledged nothing for ${this.ackDeadlineMs}ms (${what} unanswered): ` +
            'it vanished without closing the connection (power lost, cable pulled)',
        );
      },
      () => {
        this.pending = false;
      },
    );
  }

  private endpoints(): TcpEndpoints | undefined {
    const { localPort, remotePort, remoteFamily } = this.socket;
    if (localPort === undefined || remotePort === undefined) return undefined;
    return { localPort, remotePort, family: remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
  }
}

export function parseTcpAddress(address: string): { host: string; port: number } {
  const match = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(address);
  if (!match) throw new InfrastructureError(`bad TCP port address "${address}": expected tcp://host:port`);
  const host = (match[1] ?? '').replace(/^\[|\]$/g, '');
  return { host, port: Number(match[2]) };
}
