import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
// The class alone: the package's index also loads its ten parsers and its mock, a fifth of its start-up
// cost on every `qhil exec` (serialport 13 has no exports map; dist/serialport.js is its own entry).
import { SerialPort } from 'serialport/dist/serialport.js';
import { InfrastructureError, LinkClosedError } from '../core/errors.js';
import { LinkEvents, type Link } from './link.js';

export interface SerialLinkOptions {
  /** Ignored by Quectel's USB virtual ports, but some (BC25) want 57600. */
  baudRate?: number;
  /** Deadline for a write to be taken by the driver; serialport never calls back once the device vanished. */
  writeDeadlineMs?: number;
  /** How often (host monotonic) the link checks that its device is still there; see `LivenessCheck`. */
  livenessIntervalMs?: number;
}

/** Errors of an ioctl on a tty that was hung up (pty master gone) or whose USB device was removed. */
const HUNG_UP = /Input\/output error|No such device/;

/** Device identity of a path (following symlinks such as by-id names and socat's `link=`). */
interface DeviceIdentity {
  dev: number;
  ino: number;
  rdev: number;
}

function identityOf(stats: Stats): DeviceIdentity {
  return { dev: stats.dev, ino: stats.ino, rdev: stats.rdev };
}

/** A deadline timer this late (host monotonic ms) means the process was held up, not the device. */
const LATE_TIMER_MS = 100;
/** However often the process is held up, a write not taken within this long closes the link. */
const WRITE_DEADLINE_CAP_MS = 30_000;

/** A serial device (`/dev/ttyUSB2`, `/dev/serial/by-id/...`, a pseudo-terminal, `COM5`), opened exclusively. */
export class SerialLink implements Link {
  private readonly events = new LinkEvents();
  private readonly liveness: LivenessCheck;

  private constructor(
    readonly address: string,
    private readonly port: SerialPort,
    private readonly writeDeadlineMs: number,
    openedDevice: DeviceIdentity | undefined,
    livenessIntervalMs: number,
  ) {
    port.on('data', (bytes: Buffer) => this.events.emitData(bytes));
    port.on('close', (error: (Error & { disconnected?: boolean }) | null) => {
      this.events.emitClose(
        error ? new LinkClosedError(address, `port disconnected (${error.message})`) : undefined,
      );
    });
    port.on('error', (error: Error) => this.vanish(`port error: ${error.message}`));
    this.liveness = new LivenessCheck(address, port, openedDevice, livenessIntervalMs, (reason) => this.vanish(reason));
    // However the link closes (by us, a failed write, serialport's own 'close'), the check stops with it.
    this.events.onClose(() => this.liveness.stop());
  }

  static async open(path: string, options: SerialLinkOptions = {}): Promise<SerialLink> {
    const port = new SerialPort({ path, baudRate: options.baudRate ?? 115200, autoOpen: false, lock: true });
    await new Promise<void>((resolve, reject) => {
      port.open((error) => {
        if (error) {
          // serialport's lock failure reads "Error Resource temporarily unavailable Cannot lock port".
          const busy = /cannot lock port/i.test(error.message) ? ': it is in use by another process (the port is locked)' : '';
          reject(new InfrastructureError(`cannot open serial port ${path}${busy}: ${error.message}`));
        }
        else resolve();
      });
    });
    return new SerialLink(
      path,
      port,
      options.writeDeadlineMs ?? 1000,
      deviceIdentity(path),
      options.livenessIntervalMs ?? 200,
    );
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
      // The deadline counts time this process could run. A starved process (a loaded rig host) fires
      // its timers before the poll phase delivers a write's completion, so: one turn for pending I/O
      // first, and a timer that fired late is re-armed, up to WRITE_DEADLINE_CAP_MS in all. A device that
      // vanished is also seen by the liveness check, so a real loss is not hidden by this.
      const startedMs = performance.now();
      let dueMs = startedMs + this.writeDeadlineMs;
      const expire = (): void => {
        setImmediate(() => {
          if (settled) return;
          const nowMs = performance.now();
          if (nowMs - dueMs > LATE_TIMER_MS && nowMs - startedMs < WRITE_DEADLINE_CAP_MS) {
            dueMs = nowMs + this.writeDeadlineMs;
            timer = setTimeout(expire, this.writeDeadlineMs);
            return;
          }
          const error = new LinkClosedError(this.address, `write not accepted within ${this.writeDeadlineMs}ms`);
          settle(error);
          this.events.emitClose(error);
          if (this.port.isOpen) this.port.close(() => undefined);
        });
      };
      let timer = setTimeout(expire, this.writeDeadlineMs);
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

  /** The device went away: tell everyone why, then release the file descriptor. */
  private vanish(reason: string): void {
    this.events.emitClose(new LinkClosedError(this.address, reason));
    if (this.port.isOpen) this.port.close(() => undefined);
  }
}

/** The device a path names now, or undefined where paths are not device files (Windows `COM5`). */
function deviceIdentity(path: string): DeviceIdentity | undefined {
  try {
    const stats = statSync(path);
    return stats.isCharacterDevice() ? identityOf(stats) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Notices an unplug without waiting for serialport's 'close', which does not always come: on Linux a
 * read from a hung-up pty returns 0 bytes, and serialport's reader (bindings-cpp `unixRead`) retries
 * a 0-byte read forever instead of reporting it (serialport/bindings-cpp#162). Two cheap checks, on
 * one unref'd timer:
 * - the fd: a modem-status ioctl (`port.get()`, TIOCMGET) fails with EIO once the tty is hung up
 *   (pty master closed, USB device removed); a live pty answers ENOTTY, which means nothing;
 * - the path: it must still name the device that was opened (stat dev/ino/rdev); udev and devpts
 *   remove the node when the device goes, and a re-enumerated device is another node.
 * Each check runs at most once at a time, so a stuck ioctl never piles up calls.
 */
class LivenessCheck {
  private readonly timer: NodeJS.Timeout;
  private ioctlPending = false;
  private statPending = false;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly port: SerialPort,
    private readonly openedDevice: DeviceIdentity | undefined,
    intervalMs: number,
    private readonly onGone: (reason: string) => void,
  ) {
    this.timer = setInterval(() => this.check(), intervalMs);
    // The check watches the link; it must never be what keeps the process alive.
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private check(): void {
    if (this.stopped || !this.port.isOpen) return;
    if (!this.ioctlPending) {
      this.ioctlPending = true;
      this.port.get((error) => {
        this.ioctlPending = false;
        if (error && HUNG_UP.test(error.message)) {
          this.gone(`unplugged: the device hung up (${error.message.replace(/^Error: /, '')})`);
        }
      });
    }
    if (this.openedDevice && !this.statPending) {
      this.statPending = true;
      stat(this.path).then(
        (stats) => {
          this.statPending = false;
          const now = identityOf(stats);
          const was = this.openedDevice;
          if (was && (now.dev !== was.dev || now.ino !== was.ino || now.rdev !== was.rdev)) {
            this.gone('unplugged: the path now names another device (re-enumerated)');
          }
        },
        (error: NodeJS.ErrnoException) => {
          this.statPending = false;
          if (error.code === 'ENOENT' || error.code === 'ENOTDIR') this.gone('unplugged: the device node is gone');
        },
      );
    }
  }

  private gone(reason: string): void {
    if (this.stopped) return;
    this.stop();
    this.onGone(reason);
  }
}
