/**
 * The main thread's side of a simulated board's two ports: which link each port is served over,
 * output kept while nothing is attached, and whether the port is present (it vanishes on a reboot
 * or unplug, and its link is closed then). The bytes come from and go to the board worker.
 */
import { InfrastructureError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { memoryLinkPair } from '../link/memory.js';
import type { SimPort } from './protocol.js';

/** Output kept for a port nobody has attached yet (the boot banner, RDY), per port. */
const DETACHED_BUFFER_BYTES = 16 * 1024;

interface PortState {
  up: boolean;
  link: Link | undefined;
  stopListening: (() => void) | undefined;
  hostLink: Link | undefined;
  detached: Buffer[];
  detachedBytes: number;
  /** Writes to the attached link, in order. */
  writes: Promise<void>;
}

function newPortState(): PortState {
  return { up: false, link: undefined, stopListening: undefined, hostLink: undefined, detached: [], detachedBytes: 0, writes: Promise.resolve() };
}

export class BoardPorts {
  private readonly ports: Record<SimPort, PortState> = { repl: newPortState(), at: newPortState() };
  private readonly listeners = new Set<(port: SimPort, up: boolean) => void>();

  /**
   * `name`: the board's name in link addresses and errors; `input`: bytes a link brought for a port;
   * `closed`: the board is closed (no more attaching).
   */
  constructor(
    private readonly name: string,
    private readonly model: string,
    private readonly input: (port: SimPort, bytes: Uint8Array) => void,
    private readonly closed: () => boolean,
  ) {}

  /** The board worker says the port vanished or came back. */
  async setPort(port: SimPort, up: boolean): Promise<void> {
    const state = this.ports[port];
    if (state.up === up) return;
    state.up = up;
    state.detached = [];
    state.detachedBytes = 0;
    if (!up) await this.detach(port);
    for (const listener of [...this.listeners]) listener(port, up);
  }

  /** Output of the port: to its link, or kept (capped) until one is attached. */
  deliver(port: SimPort, bytes: Buffer): void {
    const state = this.ports[port];
    const link = state.link;
    if (link) {
      state.writes = state.writes.then(() => link.write(bytes)).catch(() => undefined);
      return;
    }
    state.detached.push(bytes);
    state.detachedBytes += bytes.length;
    while (state.detachedBytes > DETACHED_BUFFER_BYTES && state.detached.length > 1) {
      state.detachedBytes -= state.detached.shift()?.length ?? 0;
    }
  }

  /** See SimBoard.attach. */
  attach(port: SimPort, link: Link): void {
    const state = this.ports[port];
    if (this.closed()) throw new InfrastructureError(`simulated board ${this.model} is closed`);
    if (!state.up) throw new InfrastructureError(`${this.name}/${port}: the port is not present (board rebooting or unplugged)`);
    const previous = state.link;
    if (previous && previous !== link) {
      state.link = undefined;
      state.stopListening?.();
      void previous.close().catch(() => undefined);
    }
    state.link = link;
    const stopData = link.onData((bytes) => {
      if (state.link === link) this.input(port, bytes);
    });
    const stopClose = link.onClose(() => {
      if (state.link !== link) return;
      state.link = undefined;
      state.stopListening = undefined;
      stopData();
    });
    state.stopListening = () => {
      stopData();
      stopClose();
    };
    const backlog = state.detached;
    state.detached = [];
    state.detachedBytes = 0;
    for (const bytes of backlog) this.deliver(port, bytes);
  }

  /** See SimBoard.hostLink. */
  hostLink(port: SimPort): Link {
    const state = this.ports[port];
    if (state.hostLink && !state.hostLink.closed && state.link) return state.hostLink;
    if (!state.up) throw new InfrastructureError(`${this.name}/${port}: the port is not present (board rebooting or unplugged)`);
    const pair = memoryLinkPair(`${this.name}/${port}`);
    this.attach(port, pair.board);
    state.hostLink = pair.host;
    return pair.host;
  }

  isPortUp(port: SimPort): boolean {
    return this.ports[port].up;
  }

  onPortState(listener: (port: SimPort, up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitForPort(port: SimPort, up: boolean, timeoutMs: number): Promise<void> {
    if (this.ports[port].up === up) return Promise.resolve();
    return new Promise<void>((resolveWait, rejectWait) => {
      const timer = setTimeout(() => {
        stop();
        rejectWait(new InfrastructureError(`${this.name}/${port}: port did not ${up ? 'come back' : 'vanish'} within ${timeoutMs}ms`));
      }, timeoutMs);
      const stop = this.onPortState((changed, nowUp) => {
        if (changed !== port || nowUp !== up) return;
        clearTimeout(timer);
        stop();
        resolveWait();
      });
    });
  }

  private async detach(port: SimPort): Promise<void> {
    const state = this.ports[port];
    const link = state.link;
    if (!link) return;
    state.link = undefined;
    state.stopListening?.();
    state.stopListening = undefined;
    // Let what the board said last (an OK before a reboot) reach the host before the port goes.
    await state.writes;
    await new Promise((resolveTick) => setImmediate(resolveTick));
    await link.close().catch(() => undefined);
  }
}
