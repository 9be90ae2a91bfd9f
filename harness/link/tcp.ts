import { connect, type Socket } from 'node:net';
import { InfrastructureError, LinkClosedError } from '../core/errors.js';
import { LinkEvents, type Link } from './link.js';

/** A raw serial-over-TCP port (`tcp://host:port`, as ser2net serves it): bytes as they are, no telnet. */
export class TcpLink implements Link {
  private readonly events = new LinkEvents();

  constructor(
    readonly address: string,
    private readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (bytes: Buffer) => this.events.emitData(bytes));
    socket.on('error', (error) => this.events.emitClose(new LinkClosedError(address, `connection error: ${error.message}`)));
    socket.on('close', () => this.events.emitClose(new LinkClosedError(address, 'the far end closed the connection')));
  }

  static async open(address: string, connectDeadlineMs = 5000): Promise<TcpLink> {
    const { host, port } = parseTcpAddress(address);
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
    return new TcpLink(address, socket);
  }

  get closed(): boolean {
    return this.events.closed;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.events.closed) {
      return Promise.reject(this.events.error ?? new LinkClosedError(this.address, 'connection is closed'));
    }
    return new Promise<void>((resolve, reject) => {
      const stopWatchingClose = this.events.onClose((error) =>
        reject(error ?? new LinkClosedError(this.address, 'connection closed during write')),
      );
      this.socket.write(Buffer.from(bytes), (error) => {
        stopWatchingClose();
        if (error) reject(new LinkClosedError(this.address, `write failed: ${error.message}`));
        else resolve();
      });
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
}

export function parseTcpAddress(address: string): { host: string; port: number } {
  const match = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(address);
  if (!match) throw new InfrastructureError(`bad TCP port address "${address}": expected tcp://host:port`);
  const host = (match[1] ?? '').replace(/^\[|\]$/g, '');
  return { host, port: Number(match[2]) };
}
