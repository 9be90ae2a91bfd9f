import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AtChannel } from '../channel/at/channel.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { QuecBoard } from '../board/quec-board.js';
import type { BoardIdentity, BoardSpec, Via } from '../core/model.js';
import { errorMessage, InfrastructureError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import type { Link } from '../link/link.js';
import { openLink } from '../link/open.js';
import { TranscriptTap } from '../link/transcript.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import type { BoardLifecycle, StepBoard } from '../steps/step.js';
import { identityProblem, returnedIdentityProblem } from './identity.js';
import type { BoardLease, LeaseStore } from './lease.js';
import { runPower, type PowerAction } from './power.js';
import { resolveUsbPorts } from './usb-ports.js';

export interface OpenBoardOptions {
  runDir: string;
  /** Extra names simulated boards resolve (the demo maps NTP names to its local server). */
  simHosts?: Record<string, string>;
  /** The run's signal: a stopped run stops waiting for ports. */
  signal?: AbortSignal;
  /** Take each port's lease before opening it (simulated boards in this process need none). */
  leases?: { store: LeaseStore; waitMs: number };
  /** Lease news for the report: a dead holder's lease taken over, a lease lost to --kick. */
  onNote?: (message: string) => void;
}

/** A board as the runner uses it: what BoardSession gives, and what a test's fake board gives. */
export interface BoardConnection {
  readonly spec: BoardSpec;
  readonly board: StepBoard & { identify(timeoutMs: number, signal?: AbortSignal): Promise<BoardIdentity | undefined> };
  readonly ports: Partial<Record<Via, string>>;
  /** Transcript paths relative to the run folder. */
  readonly transcripts: string[];
  /** True when some port vanished and must be opened again. */
  readonly disconnected: boolean;
  /** The board runs on this host (simulated). */
  readonly onHost: boolean;
  /** Bytes received from the board so far, all ports, across reconnects. */
  bytesReceived(): number;
  reconnect(waitMs: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
  /** Power switch and return for `power-cycle` and `reset`. */
  readonly lifecycle?: BoardLifecycle;
}

const VIAS = ['repl', 'at'] as const;
const REOPEN_POLL_MS = 250;
/** How long a reopened port has to prove the board is behind it (a TCP server accepts with no board). */
const PROBE_ANSWER_MS = 1000;
/** After a power cycle or reset, how long the old ports get to close before they are reopened anyway. */
const GONE_WAIT_MS = 5000;
const GONE_POLL_MS = 50;
const REIDENTIFY_TIMEOUT_MS = 15_000;

function transcriptName(boardId: string, via: Via | 'power'): string {
  return join('transcripts', `${boardId.replace(/[^\w.-]/g, '_')}-${via}.log`);
}

function powerTranscriptName(boardId: string): string {
  return transcriptName(boardId, 'power');
}

/**
 * A board opened for a run: its ports (or its simulated board), a transcript tap on each, channels
 * and a QuecBoard over them. When a port vanishes (USB re-enumeration after a reboot, a cable pulled
 * and put back) `reconnect` opens it again, so a retry meets a live port rather than a dead channel.
 */
export class BoardSession implements BoardConnection {
  readonly ports: Partial<Record<Via, string>> = {};
  /** Transcript paths relative to the run folder. */
  readonly transcripts: string[] = [];
  private links: Partial<Record<Via, Link>> = {};
  private channels: { repl?: ReplChannel; at?: AtChannel } = {};
  private current: QuecBoard | undefined;
  private received = 0;
  private lease: BoardLease | undefined;
  /** Who the board said it was last, kept across reconnects: the board that comes back must be the same. */
  private lastIdentity: BoardIdentity | undefined;

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
    if (spec.power) this.transcripts.push(powerTranscriptName(spec.id));
  }

  /** Opens every port of the board; throws InfrastructureError naming the port that failed (nothing is left open). */
  static async open(given: BoardSpec, options: OpenBoardOptions): Promise<BoardSession> {
    // Ports named by USB serial number get their paths now, and a pinned USB serial is checked.
    const spec = await resolveUsbPorts(given);
    // The lease comes before the ports: a busy board is never opened, not even for a moment.
    const addresses = spec.sim ? [] : VIAS.flatMap((via) => (spec[via] ? [spec[via]] : []));
    const lease = options.leases && addresses.length > 0
      ? await options.leases.store.acquire({ board: spec.id, addresses, waitMs: options.leases.waitMs, signal: options.signal, onNote: options.onNote })
      : undefined;
    let session: BoardSession | undefined;
    try {
      const sim = spec.sim
        ? await startSimBoard({ profile: spec.sim.profile, clockOffsetMs: spec.sim.offsetMs, faults: spec.sim.faults, hosts: options.simHosts, name: spec.id })
        : undefined;
      session = new BoardSession(spec, options, sim);
      session.lease = lease;
      await session.connect(0, options.signal, false);
    } catch (error) {
      await session?.close();
      lease?.release();
      throw error;
    }
    return session;
  }

  /** Power and return for `power-cycle` and `reset`. */
  get lifecycle(): BoardLifecycle {
    return {
      canPower: this.spec.power !== undefined || this.sim !== undefined,
      power: (action, signal) => this.power(action, signal),
      awaitReturn: (waitMs, signal) => this.awaitReturn(waitMs, signal),
    };
  }

  /** The rig's power commands; a simulated board without them uses its own switch (off: unplugged, on: boots). */
  private async power(action: PowerAction, signal: AbortSignal): Promise<string> {
    if (this.spec.power || !this.sim) {
      return runPower(this.spec.id, this.spec.power, action, { transcriptPath: join(this.options.runDir, powerTranscriptName(this.spec.id)), signal });
    }
    if (action === 'off') await this.sim.control.unplug();
    else await this.sim.control.reboot('hard');
    return `the simulated board's power switch (${action})`;
  }

  private async awaitReturn(waitMs: number, signal: AbortSignal): Promise<BoardIdentity | undefined> {
    const deadline = performance.now() + waitMs;
    const before = this.current?.identity ?? this.lastIdentity;
    // The board goes first: a port that still answers is the board before its reset, not after it.
    const goneBy = performance.now() + Math.min(GONE_WAIT_MS, waitMs / 2);
    while (!this.disconnected && performance.now() < goneBy && !signal.aborted) await sleep(GONE_POLL_MS, signal);
    await this.reconnect(Math.max(1, deadline - performance.now()), signal);
    const port = this.ports.at ?? this.ports.repl ?? this.spec.id;
    const identity = await this.board.identify(Math.min(REIDENTIFY_TIMEOUT_MS, Math.max(1, deadline - performance.now())), signal);
    const problem = returnedIdentityProblem(before, identity, port) ?? identityProblem(this.spec, identity, port);
    if (problem) throw new InfrastructureError(problem);
    if (identity) this.lastIdentity = identity;
    return identity;
  }

  get onHost(): boolean {
    return this.sim !== undefined;
  }

  bytesReceived(): number {
    return this.received;
  }

  get board(): QuecBoard {
    if (!this.current) throw new InfrastructureError(`board ${this.spec.id} is not connected`);
    return this.current;
  }

  /**
   * True when some port is not usable: its link closed (the far end vanished), or a reconnect that
   * gave up left it without one. The next step then tries again.
   */
  get disconnected(): boolean {
    return VIAS.some((via) => this.ports[via] !== undefined && (this.links[via] === undefined || this.links[via]?.closed === true));
  }

  /**
   * Opens the ports again after one vanished, waiting up to `waitMs` for them to come back. Readings
   * and other step values live in the runner, so nothing measured is lost.
   */
  async reconnect(waitMs: number, signal?: AbortSignal): Promise<void> {
    await this.closeLinks();
    await this.connect(waitMs, signal, true);
  }

  async close(): Promise<void> {
    try {
      await this.closeLinks();
      await this.sim?.close();
    } finally {
      this.lease?.release();
      this.lease = undefined;
    }
  }

  /**
   * Opens every port, each retried until `waitMs` from now. After a disconnect (`probe`), a port
   * counts as back only when the board answers on it: a TCP serial server (ser2net) accepts a
   * connection while its device is still gone, and a re-enumerating USB port can open before the
   * module listens.
   */
  private async connect(waitMs: number, signal: AbortSignal | undefined, probe: boolean): Promise<void> {
    const deadline = performance.now() + waitMs;
    for (const via of VIAS) {
      const address = this.ports[via];
      if (!address) continue;
      const path = join(this.options.runDir, transcriptName(this.spec.id, via));
      for (;;) {
        const link = new TranscriptTap(await this.openPort(via, address, deadline, signal), path);
        link.onData((bytes) => {
          this.received += bytes.length;
        });
        if (!probe || (await answers(link, via, Math.min(PROBE_ANSWER_MS, Math.max(1, deadline - performance.now())), signal))) {
          this.links[via] = link;
          break;
        }
        await link.close().catch(() => undefined);
        if (signal?.aborted || performance.now() + REOPEN_POLL_MS > deadline) {
          throw new InfrastructureError(`${address}: the port opened again but the board did not answer on it within ${Math.round(waitMs)}ms`);
        }
        await sleep(REOPEN_POLL_MS, signal);
      }
    }
    const repl = this.links.repl
      ? new ReplChannel(this.links.repl, { transcriptPath: join(this.options.runDir, transcriptName(this.spec.id, 'repl')) })
      : undefined;
    const at = this.links.at ? new AtChannel(this.links.at, { transcriptPath: join(this.options.runDir, transcriptName(this.spec.id, 'at')) }) : undefined;
    this.channels = { repl, at };
    this.current = new QuecBoard(this.spec.id, { repl, at }, this.spec.apn ?? this.sim?.profile.apn);
  }

  /** One port, retried until `deadline` (host monotonic ms): a re-enumerating port comes back late. */
  private async openPort(via: Via, address: string, deadline: number, signal: AbortSignal | undefined): Promise<Link> {
    for (;;) {
      try {
        if (signal?.aborted) throw new InfrastructureError(`${address}: the run was stopped while opening the port`);
        if (this.sim) {
          await this.sim.waitForPort(via, true, Math.max(1, deadline - performance.now()));
          return this.sim.hostLink(via);
        }
        return await openLink(address);
      } catch (error) {
        if (signal?.aborted || performance.now() + REOPEN_POLL_MS > deadline) {
          throw error instanceof InfrastructureError ? error : new InfrastructureError(`${address}: ${errorMessage(error)}`);
        }
        await sleep(REOPEN_POLL_MS, signal);
      }
    }
  }

  private async closeLinks(): Promise<void> {
    // An AT-only board has no REPL to leave: release only the channels it has.
    await this.channels.repl?.release().catch(() => undefined);
    const links = Object.values(this.links);
    this.links = {};
    this.channels = {};
    if (this.current?.identity) this.lastIdentity = this.current.identity;
    this.current = undefined;
    await Promise.allSettled(links.map((link) => link.close()));
  }
}

/**
 * Does a board answer on a freshly opened port? AT: `AT` answered by `OK`. REPL: Ctrl-C (stop whatever
 * runs) and Ctrl-B (leave raw mode) answered by the `>>> ` prompt. Anything else is not the board: a
 * serial server's "Device open failure" text, a closed connection. Bytes the probe provokes are in
 * the transcript like any other.
 */
async function answers(link: Link, via: Via, withinMs: number, signal: AbortSignal | undefined): Promise<boolean> {
  let seen = '';
  let stop: () => void = () => undefined;
  const answered = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    const offData = link.onData((bytes) => {
      seen = (seen + bytes.toString('latin1')).slice(-64);
      if (via === 'repl' ? />>> $|>>> \r?\n/.test(seen) : /OK\r?\n/.test(seen)) resolve(true);
    });
    const offClose = link.onClose(() => resolve(false));
    const onAbort = (): void => resolve(false);
    signal?.addEventListener('abort', onAbort, { once: true });
    stop = () => {
      clearTimeout(timer);
      offData();
      offClose();
      signal?.removeEventListener('abort', onAbort);
    };
  });
  try {
    await link.write(Buffer.from(via === 'at' ? 'AT\r' : '\r\x03\x02', 'latin1'));
    return await answered;
  } catch {
    return false;
  } finally {
    stop();
  }
}
