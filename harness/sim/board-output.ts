/**
 * Output shaping of a simulated board's two ports: whether the ports are present (USB up), the
 * `garbled-output` and `slow-output` faults, and the messages that carry the bytes to the main
 * thread (board.ts). Nothing leaves a port that is down or a board that is closing.
 */
import { sleep } from '../core/sleep.js';
import { Garbler, type GarbleMode } from './faults.js';
import type { FaultSet } from './modem.js';
import { SIM_PORTS, type FromBoard, type SimPort } from './protocol.js';

export class BoardOutput {
  private up = false;
  private isClosed = false;
  private readonly slowQueue: Array<{ port: SimPort; bytes: Buffer }> = [];
  private slowPumping = false;
  /** One per port while `garbled-output` is in force, so each port's corruption depends only on its own bytes. */
  private garblers: Record<SimPort, Garbler> | undefined;

  /** `faults`: read on every write (`slowOutputMs`), so a fault set later applies at once. */
  constructor(
    private readonly faults: Pick<FaultSet, 'slowOutputMs'>,
    private readonly post: (message: FromBoard) => void,
  ) {}

  get portsUp(): boolean {
    return this.up;
  }

  /** The board is closing: the ports go and stay down. */
  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    this.isClosed = true;
    this.setPortsUp(false);
  }

  setPortsUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    if (!up) this.slowQueue.length = 0;
    for (const simPort of SIM_PORTS) this.post({ type: 'port', port: simPort, up });
  }

  /** `rate` 0 ends the fault. */
  setGarble(rate: number, mode: GarbleMode, seed: number): void {
    // The AT port's stream gets a seed of its own, derived, so the two ports do not mirror each other.
    this.garblers = rate > 0 ? { repl: new Garbler(rate, mode, seed), at: new Garbler(rate, mode, (seed ^ 0x9e3779b9) >>> 0) } : undefined;
  }

  emit(simPort: SimPort, bytes: Uint8Array | string): void {
    if (!this.up || this.isClosed) return;
    const text = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
    const out = this.garblers ? this.garblers[simPort].garble(text) : text;
    if (out.length === 0) return;
    if (this.faults.slowOutputMs > 0 || this.slowPumping) {
      this.slowQueue.push({ port: simPort, bytes: out });
      void this.pumpSlowOutput();
      return;
    }
    this.post({ type: 'output', port: simPort, bytes: out });
  }

  private async pumpSlowOutput(): Promise<void> {
    if (this.slowPumping) return;
    this.slowPumping = true;
    try {
      for (let chunk = this.slowQueue.shift(); chunk; chunk = this.slowQueue.shift()) {
        await sleep(this.faults.slowOutputMs);
        if (this.up) this.post({ type: 'output', port: chunk.port, bytes: chunk.bytes });
      }
    } finally {
      this.slowPumping = false;
    }
  }
}
