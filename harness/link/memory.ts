import { LinkClosedError } from '../core/errors.js';
import { LinkEvents, type Link } from './link.js';

/** One end of an in-memory pair. Bytes written at one end arrive at the other on a later tick. */
class MemoryLink implements Link {
  private readonly events = new LinkEvents();
  peer: MemoryLink | undefined;

  constructor(readonly address: string) {}

  get closed(): boolean {
    return this.events.closed;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.events.closed) throw this.events.error ?? new LinkClosedError(this.address, 'link is closed');
    const peer = this.peer;
    const copy = Buffer.from(bytes);
    // Deliver asynchronously, as a real port would, so a reader never runs inside the writer's call.
    setImmediate(() => {
      if (peer && !peer.events.closed) peer.events.emitData(copy);
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
    this.peer?.vanish();
  }

  /** The far end went away: what a USB unplug looks like from this side. */
  vanish(): void {
    this.events.emitClose(new LinkClosedError(this.address, 'the far end closed the link'));
  }
}

/** Two connected links: `host` for the harness, `board` for a simulated board. */
export function memoryLinkPair(name = 'memory'): { host: Link; board: Link; unplug(): void } {
  const host = new MemoryLink(`mem://${name}`);
  const board = new MemoryLink(`mem://${name}/board`);
  host.peer = board;
  board.peer = host;
  return {
    host,
    board,
    unplug: () => {
      host.vanish();
      board.vanish();
    },
  };
}
