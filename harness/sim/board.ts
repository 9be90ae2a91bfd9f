import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { errorMessage, InfrastructureError, InputError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { resolveBoardProfile, workerScripts } from './board-files.js';
import { openHostedBoard } from './board-host.js';
import { BoardPorts } from './board-ports.js';
import { BoardRequests } from './board-requests.js';
import { parseFault } from './faults.js';
import type { BoardProfile } from './profile.js';
import { SIM_PORTS, type BoardWorkerData, type ControlOp, type FromBoard, type SimPort, type ToBoard } from './protocol.js';

export { resolveBoardProfile } from './board-files.js';
export type { SimPort } from './protocol.js';

/** Deadline for a board to boot (worker, VM, banner). */
const START_DEADLINE_MS = 15_000;
/** Deadline for the board's side to shut down before it is dropped from its host. */
const CLOSE_DEADLINE_MS = 2000;

export interface StartSimBoardOptions {
  /** A profile, a path to a profile YAML, or the name of one in fixtures/sim (`ec200u`). */
  profile: BoardProfile | string;
  /** Board clock minus true UTC at start, ms (positive = board fast); overrides the profile's. */
  clockOffsetMs?: number;
  /** Named faults (`no-sim`, `clock-drift=40`, ...) in force from power-on; see faults.ts. */
  faults?: string[];
  /** Extra host names the board resolves (`ntp.aliyun.com: 127.0.0.1:11123`); loopback only. */
  hosts?: Record<string, string>;
  /** What the board is called in its links' addresses (`sim-1/repl`); default `sim-<n>`. */
  name?: string;
  /** The board's log lines (failed NTP queries, dial errors); default: dropped. */
  onLog?: (message: string) => void;
  /**
   * Host folder for the board's filesystem (QuecPython's `/usr` is `<dir>/usr`): it outlives soft
   * and hard reboots. Default: a fresh temp folder, removed when the board closes.
   */
  filesystemDir?: string;
}

export interface SimControl {
  /** Injects a named fault now (`setFault('clock-drift', '40')` or `setFault('clock-drift=40')`). */
  setFault(name: string, value?: string): Promise<void>;
  /** Back to the profile's SIM, network, drift and no output faults; the clock stays where it is. */
  clearFaults(): Promise<void>;
  /** Moves the board's RTC by `ms`. */
  stepClock(ms: number): Promise<void>;
  /** Sets the board's RTC to true UTC (host wall clock) + `ms` + the network zone, as at power-on. */
  setClockOffset(ms: number): Promise<void>;
  /** The RTC's wall-clock reading, ms since 1970 as if UTC (zone included, see ModemModel). */
  readRtcMs(): Promise<number>;
  /**
   * `soft`: the REPL soft-reboots (`MPY: soft reboot`, banner; Python state gone, RTC kept).
   * `hard` (AT+CFUN=1,1): both ports vanish (attached links close), come back after the profile's
   * `rebootDelay`, AT says `RDY`. Resolves once the reboot has started; see `waitForPort`.
   */
  reboot(kind?: 'soft' | 'hard'): Promise<void>;
  /** USB cable out: both ports vanish (attached links close) until `replug()`. The board keeps running. */
  unplug(): Promise<void>;
  replug(): Promise<void>;
}

export interface SimBoard {
  readonly profile: BoardProfile;
  /**
   * An in-process Link to `port` (one end of a memory pair whose other end is attached to the port).
   * Returns the same link while it stays open and attached; a new one after it closed, after the
   * port came back from a reboot or unplug, or after `attach` gave the port to another link.
   * Throws InfrastructureError when the port is absent (rebooting, unplugged).
   */
  hostLink(port: SimPort): Link;
  /**
   * Serves `port` over any board-side Link (a PTY, a TCP socket): bytes arriving on it go to the
   * port, the port's output is written to it. One link per port: attaching replaces (and closes) the
   * previous one. Output produced while nothing was attached (the boot banner, RDY) is delivered first.
   * When the port vanishes the link is closed.
   */
  attach(port: SimPort, link: Link): void;
  isPortUp(port: SimPort): boolean;
  /** Called whenever a port vanishes (`up` false) or comes back. */
  onPortState(listener: (port: SimPort, up: boolean) => void): () => void;
  /** Resolves when `port` is present (`up` true) or absent, rejects after `timeoutMs`. */
  waitForPort(port: SimPort, up: boolean, timeoutMs: number): Promise<void>;
  readonly control: SimControl;
  close(): Promise<void>;
}

let boardCounter = 0;

let concurrentRecompilationOff = false;

/**
 * Node 20 tears a worker's isolate down by unregistering it from the platform before disposing it; a
 * TurboFan job still compiling on a background thread in that window asks the platform for the
 * isolate's task runner and aborts the whole process ("Assertion failed: (data.first) != nullptr" in
 * NodePlatform::ForIsolate): a 32-board rig crashed at its end one run in two. With concurrent
 * recompilation off, isolates created from now on (the sim's workers) optimise on their own thread, so
 * no such job outlives them. The flag is read when an isolate is created: the harness's own main
 * isolate keeps its background compiler.
 */
function disableConcurrentRecompilation(): void {
  if (concurrentRecompilationOff) return;
  setFlagsFromString('--no-concurrent-recompilation');
  concurrentRecompilationOff = true;
}

/** Starts a simulated Quectel board (its modem side in a board host, its VM in a thread of its own); resolves once it has booted. */
export async function startSimBoard(options: StartSimBoardOptions): Promise<SimBoard> {
  const profile = resolveBoardProfile(options.profile);
  const faults = options.faults ?? [];
  for (const fault of faults) parseFault(fault);
  const scripts = workerScripts();
  const name = options.name ?? `sim-${++boardCounter}`;
  if (options.clockOffsetMs !== undefined && !Number.isFinite(options.clockOffsetMs)) {
    throw new InputError(`simulated board ${name}: clock offset must be a finite number of ms, got ${options.clockOffsetMs}`);
  }
  const ownFilesystem = options.filesystemDir === undefined;
  // Not sync: on a rig the main thread times other boards meanwhile.
  const filesystemDir = options.filesystemDir ?? (await mkdtemp(join(tmpdir(), 'qhil-sim-fs-')));
  const removeFilesystem = async (): Promise<void> => {
    if (ownFilesystem) await rm(filesystemDir, { recursive: true, force: true });
  };
  const workerData: BoardWorkerData = {
    profile,
    clockOffsetMs: options.clockOffsetMs,
    faults,
    hosts: options.hosts ?? {},
    vmWorkerPath: scripts.vm,
    filesystemDir,
  };
  disableConcurrentRecompilation();
  let exited = false;
  let closed = false;
  let onMessage: (message: FromBoard) => void = () => undefined;
  let onGone: (reason: string) => void = () => undefined;
  const hosted = openHostedBoard(scripts.board, workerData, {
    message: (message) => onMessage(message),
    gone: (reason) => onGone(reason),
  });

  const send = (message: ToBoard): void => {
    if (!exited) hosted.post(message);
  };
  const requests = new BoardRequests(profile.model, send);
  const request = (op: ControlOp): Promise<number | null> => requests.request(op);
  const ports = new BoardPorts(name, profile.model, (port, bytes) => send({ type: 'input', port, bytes }), () => closed);

  const ready = new Promise<void>((resolveReady, rejectReady) => {
    const timer = setTimeout(() => {
      rejectReady(new InfrastructureError(`simulated board ${profile.model} did not boot within ${START_DEADLINE_MS}ms`));
    }, START_DEADLINE_MS);
    onMessage = (message) => {
      switch (message.type) {
        case 'ready':
          clearTimeout(timer);
          resolveReady();
          break;
        case 'failed':
          clearTimeout(timer);
          rejectReady(new InfrastructureError(`simulated board ${profile.model} failed to boot: ${message.message}`));
          break;
        case 'output':
          ports.deliver(message.port, Buffer.from(message.bytes));
          break;
        case 'port':
          void ports.setPort(message.port, message.up);
          break;
        case 'reply':
          requests.answer(message.id, message);
          break;
        case 'log':
          options.onLog?.(message.message);
          break;
      }
    };
    onGone = (reason) => {
      exited = true;
      clearTimeout(timer);
      rejectReady(new InfrastructureError(`simulated board ${profile.model} crashed: ${reason}`));
      options.onLog?.(`board crashed: ${reason}`);
      requests.workerGone();
      for (const port of SIM_PORTS) void ports.setPort(port, false);
    };
  });

  try {
    await ready;
  } catch (error) {
    exited = true;
    await hosted.drop();
    await removeFilesystem();
    throw error;
  }

  const board: SimBoard = {
    profile,
    hostLink: (port) => ports.hostLink(port),
    attach: (port, link) => ports.attach(port, link),
    isPortUp: (port) => ports.isPortUp(port),
    onPortState: (listener) => ports.onPortState(listener),
    waitForPort: (port, up, timeoutMs) => ports.waitForPort(port, up, timeoutMs),
    control: {
      setFault: async (faultName, value) => {
        parseFault(faultName, value);
        await request({ op: 'set-fault', name: faultName, value });
      },
      clearFaults: async () => void (await request({ op: 'clear-faults' })),
      stepClock: async (ms) => void (await request({ op: 'step-clock', ms })),
      setClockOffset: async (ms) => void (await request({ op: 'set-clock-offset', ms })),
      readRtcMs: async () => Number(await request({ op: 'read-rtc' })),
      reboot: async (kind = 'hard') => void (await request({ op: 'reboot', kind })),
      unplug: async () => void (await request({ op: 'unplug' })),
      replug: async () => void (await request({ op: 'replug' })),
    },
    async close() {
      if (closed) return;
      closed = true;
      if (!exited) {
        await Promise.race([
          request({ op: 'close' }).catch((error: unknown) => options.onLog?.(`close: ${errorMessage(error)}`)),
          new Promise((resolveLater) => setTimeout(resolveLater, CLOSE_DEADLINE_MS).unref()),
        ]);
      }
      await Promise.all(SIM_PORTS.map((port) => ports.setPort(port, false)));
      exited = true;
      await Promise.race([hosted.drop(), new Promise((resolveLater) => setTimeout(resolveLater, CLOSE_DEADLINE_MS).unref())]);
      await removeFilesystem();
    },
  };
  return board;
}
