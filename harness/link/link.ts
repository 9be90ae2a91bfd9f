import type { LinkClosedError } from '../core/errors.js';

/**
 * A link moves bytes to and from one port of a board, and nothing else: no prompts, no parsing.
 * Channels (AT, REPL) are built above it and never know whether the bytes came from a USB port,
 * a pseudo-terminal, TCP or memory.
 */
export interface Link {
  /** The port as the user named it (`/dev/ttyUSB2`, `tcp://127.0.0.1:7001`); used in every error. */
  readonly address: string;
  readonly closed: boolean;
  /**
   * Sends bytes. Rejects with LinkClosedError naming the port if the link is closed, or closes while
   * the write is pending (never waits more than about a second after the far end vanished).
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Every byte that arrives goes to every listener, whether or not anybody is waiting for it. */
  onData(listener: (bytes: Buffer) => void): () => void;
  /** Called once when the link closes, by us (`reason` undefined) or because the far end vanished. */
  onClose(listener: (error: LinkClosedError | undefined) => void): () => void;
  close(): Promise<void>;
}

/** A small helper for link implementations: listener sets and the close-once logic. */
export class LinkEvents {
  private readonly dataListeners = new Set<(bytes: Buffer) => void>();
  private readonly closeListeners = new Set<(error: LinkClosedError | undefined) => void>();
  private closeError: LinkClosedError | undefined;
  closed = false;

  onData(listener: (bytes: Buffer) => void): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  onClose(listener: (error: LinkClosedError | undefined) => void): () => void {
    if (this.closed) {
      queueMicrotask(() => listener(this.closeError));
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  emitData(bytes: Buffer): void {
    for (const listener of [...this.dataListeners]) listener(bytes);
  }

  /** Marks the link closed and tells everyone once; later calls do nothing. */
  emitClose(error: LinkClosedError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    for (const listener of [...this.closeListeners]) listener(error);
    this.closeListeners.clear();
    this.dataListeners.clear();
  }

  get error(): LinkClosedError | undefined {
    return this.closeError;
  }
}
