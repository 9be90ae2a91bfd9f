import { join } from 'node:path';
import { AtChannel } from '../channel/at/channel.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { QuecBoard } from '../board/quec-board.js';
import type { Via } from '../board/board.js';
import { errorMessage, InfrastructureError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import type { Link } from '../link/link.js';
import { openLink } from '../link/open.js';
import { TranscriptTap } from '../link/transcript.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import type { BoardSpec } from '../core/model.js';

export interface OpenBoardOptions {
  runDir: string;
  /** Extra names simulated boards resolve (the demo maps NTP names to its local server). */
  simHosts?: Record<string, string>;
}

const VIAS = ['repl', 'at'] as const;
const REOPEN_POLL_MS = 250;

function transcriptName(boardId: string, via: Via): string {
  return join('transcripts', `${boardId.replace(/[^\w.-]/g, '_')}-${via}.log`);
}

/**
 * A board opened for a run: its ports (or its simulated board), a transcript tap on each, channels
 * and a QuecBoard over them. When a port vanishes (USB re-enumeration after a reboot, a cable pulled
 * and put back) `reconnect` opens it again, so a retry meets a live port rather than a dead channel.
 */
export class BoardSession {
  readonly ports: Partial<Record<Via, string>> = {};
  /** Transcript paths relative to the run folder. */
  readonly transcripts: string[] = [];
  private links: Partial<Record<Via, Link>> = {};
  private current: QuecBoard | undefined;

  private constructor(
    readonly spec: BoardSpec,
    private readonly options: OpenBoardOptions,
    private readonly sim: SimBoard | undefined,
  ) {
    for (const via of VIAS) {
      const address = sim ? `sim://${spec.id}/${via}` : spec[via];
      if (!address) continue;
      this.ports[via] = address;
      this.transcripts.push(transcriptName(spec.id, via));
    }
  }

  /** Opens every port of the board; throws InfrastructureError naming the port that failed (nothing is left open). */
  static async open(spec: BoardSpec, options: OpenBoardOptions): Promise<BoardSession> {
    const sim = spec.sim
      ? await startSimBoard({ profile: spec.sim.profile, clockOffsetMs: spec.sim.offsetMs, faults: spec.sim.faults, hosts: options.simHosts, name: spec.id })
      : undefined;
    const session = new BoardSession(spec, options, sim);
    try {
      await session.connect(0);
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  get board(): QuecBoard {
    if (!this.current) throw new InfrastructureError(`board ${this.spec.id} is not connected`);
    return this.current;
  }

  /** True when some port's link has closed (the far end vanished). */
  get disconnected(): boolean {
    return Object.values(this.links).some((link) => link.closed);
  }

  /**
   * Opens the ports again after one vanished, waiting up to `waitMs` for them to come back. Readings
   * and other step values live in the runner, so nothing measured is lost.
   */
  async reconnect(waitMs: number): Promise<void> {
    await this.closeLinks();
    await this.connect(waitMs);
  }

  async close(): Promise<void> {
    await this.closeLinks();
    await this.sim?.close();
  }

  private async connect(waitMs: number): Promise<void> {
    const deadline = performance.now() + waitMs;
    for (const via of VIAS) {
      const address = this.ports[via];
      if (!address) continue;
      const path = join(this.options.runDir, transcriptName(this.spec.id, via));
      const link = await this.openPort(via, address, deadline);
      this.links[via] = new TranscriptTap(link, path);
    }
    const repl = this.links.repl
      ? new ReplChannel(this.links.repl, { transcriptPath: join(this.options.runDir, transcriptName(this.spec.id, 'repl')) })
      : undefined;
    const at = this.links.at ? new AtChannel(this.links.at, { transcriptPath: join(this.options.runDir, transcriptName(this.spec.id, 'at')) }) : undefined;
    this.current = new QuecBoard(this.spec.id, { repl, at }, this.spec.apn ?? this.sim?.profile.apn);
  }

  /** One port, retried until `deadline` (host monotonic ms): a re-enumerating port comes back late. */
  private async openPort(via: Via, address: string, deadline: number): Promise<Link> {
    for (;;) {
      try {
        if (this.sim) {
          await this.sim.waitForPort(via, true, Math.max(1, deadline - performance.now()));
          return this.sim.hostLink(via);
        }
        return await openLink(address);
      } catch (error) {
        if (performance.now() + REOPEN_POLL_MS > deadline) {
          throw error instanceof InfrastructureError ? error : new InfrastructureError(`${address}: ${errorMessage(error)}`);
        }
        await sleep(REOPEN_POLL_MS);
      }
    }
  }

  private async closeLinks(): Promise<void> {
    await this.current?.replChannel().release().catch(() => undefined);
    const links = Object.values(this.links);
    this.links = {};
    this.current = undefined;
    await Promise.allSettled(links.map((link) => link.close()));
  }
}
