import { SerialPort } from 'serialport';
import { InfrastructureError, LinkClosedError } from '../core/errors.js';
import { LinkEvents, type Link } from './link.js';

export interface SerialLinkOptions {
  /** Ignored by Quectel's USB virtual ports, but some (BC25) want 57600. */
  baudRate?: number;
  /** Deadline for a write to be taken by the driver; serialport never calls back once the device vanished. */
  writeDeadlineMs?: number;
}

/** A serial device (`/dev/ttyUSB2`, `/dev/serial/by-id/...`, a pseudo-terminal, `COM5`), opened exclusively. */
export class SerialLink implements Link {
  private readonly events = new LinkEvents();

  private constructor(
    readonly address: string,
    private readonly port: SerialPort,
    private readonly writeDeadlineMs: number,
  ) {
    port.on('data', (bytes: Buffer) => this.events.emitData(bytes));
    port.on('close', (error: (Error & { disconnected?: boolean }) | null) => {
      this.events.emitClose(
        error ? new LinkClosedError(address, `port disconnected (${error.message})`) : undefined,
      );
    });
    port.on('error', (error: Error) => {
      this.events.emitClose(new LinkClosedError(address, `port error: ${error.message}`));
      if (port.isOpen) port.close(() => undefined);
    });
  }

  static async open(path: string, options: SerialLinkOptions = {}): Promise<SerialLink> {
    const port = new SerialPort({ path, baudRate: options.baudRate ?? 115200, autoOpen: false, lock: true });
    await new Promise<void>((resolve, reject) => {
      port.open((error) => {
        if (error) reject(new InfrastructureError(`cannot open serial port ${path}: ${error.message}`));
        else resolve();
      });
    });
    return new SerialLink(path, port, options.writeDeadlineMs ?? 1000);
  }

  get closed(): boolean {
    return this.events.closed;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.events.closed) {
      return Promise.reject(this.events.error ?? new LinkClosedError(this.address, 'port is closed'));
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
      // A write to a device that vanished never calls back: race it with close and a deadline.
      const stopWatchingClose = this.events.onClose((error) =>
        settle(error ?? new LinkClosedError(this.address, 'port closed during write')),
      );
      const timer = setTimeout(() => {
        const error = new LinkClosedError(this.address, `write not accepted within ${this.writeDeadlineMs}ms`);
        settle(error);
        this.events.emitClose(error);
        if (this.port.isOpen) this.port.close(() => undefined);
      }, this.writeDeadlineMs);
      this.port.write(Buffer.from(bytes), (error) => {
        if (error) settle(new LinkClosedError(this.address, `write failed: ${error.message}`));
        else this.port.drain(() => settle());
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
    if (this.events.closed && !this.port.isOpen) return;
    this.events.emitClose(undefined);
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.port.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
