import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { errorMessage, InfrastructureError, InputError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { memoryLinkPair } from '../link/memory.js';
import { parseFault } from './faults.js';
import { loadBoardProfile, type BoardProfile } from './profile.js';
import { SIM_PORTS, type BoardWorkerData, type ControlOp, type FromBoard, type SimPort, type ToBoard } from './protocol.js';

export type { SimPort } from './protocol.js';

/** Deadline for a board to boot (worker, VM, banner). */
const START_DEADLINE_MS = 15_000;
/** Deadline for a control request to be answered by the board worker. */
const CONTROL_DEADLINE_MS = 10_000;
/** Deadline for the board worker to shut down before it is terminated. */
const CLOSE_DEADLINE_MS = 2000;
/** Output kept for a port nobody has attached yet (the boot banner, RDY), per port. */
const DETACHED_BUFFER_BYTES = 16 * 1024;

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

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Finds a profile: a BoardProfile as is, a YAML path, or a name in fixtures/sim. Throws InputError. */
export function resolveBoardProfile(profile: BoardProfile | string): BoardProfile {
  if (typeof profile !== 'string') return profile;
  if (existsSync(profile)) return loadBoardProfile(profile);
  const named = join(REPO_ROOT, 'fixtures', 'sim', `${profile.replace(/\.ya?ml$/, '')}.yaml`);
  if (/^[\w.-]+$/.test(profile) && existsSync(named)) return loadBoardProfile(named);
  throw new InputError(`no board profile "${profile}": not a file, nor a name in ${join(REPO_ROOT, 'fixtures', 'sim')}`);
}

/**
 * Where the worker scripts are. From dist/ (node, the CLI) they sit beside this file. From the
 * TypeScript source (vitest), worker threads cannot load .ts, so the compiled ones in dist/sim are
 * used: `npm test` runs `npm run build` first. A stale build is refused rather than silently run.
 */
function workerScripts(): { board: string; vm: string } {
  const here = fileURLToPath(import.meta.url);
  const sourceDir = dirname(here);
  if (here.endsWith('.js')) return { board: join(sourceDir, 'worker.js'), vm: join(sourceDir, 'micropython', 'vm-worker.js') };
  const distDir = join(REPO_ROOT, 'dist', 'sim');
  for (const source of listSources(sourceDir)) {
    const built = join(distDir, relative(sourceDir, source)).replace(/\.ts$/, '.js');
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) {
      throw new InfrastructureError(
        `the simulated board runs its workers from dist/, and ${relative(REPO_ROOT, built)} is ` +
          `${existsSync(built) ? 'older than' : 'missing for'} ${relative(REPO_ROOT, source)}: run \`npm run build\``,
      );
    }
  }
  return { board: join(distDir, 'worker.js'), vm: join(distDir, 'micropython', 'vm-worker.js') };
}

function listSources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listSources(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

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

let boardCounter = 0;

/** Starts a simulated Quectel board in a worker thread of its own; resolves once it has booted. */
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
  const filesystemDir = options.filesystemDir ?? mkdtempSync(join(tmpdir(), 'qhil-sim-fs-'));
  const removeFilesystem = (): void => {
    if (ownFilesystem) rmSync(filesystemDir, { recursive: true, force: true });
  };
  const workerData: BoardWorkerData = {
    profile,
    clockOffsetMs: options.clockOffsetMs,
    faults,
    hosts: options.hosts ?? {},
    vmWorkerPath: scripts.vm,
    filesystemDir,
  };
  const worker = new Worker(scripts.board, { workerData });
  const ports: Record<SimPort, PortState> = {
    repl: newPortState(),
    at: newPortState(),
  };
  const portListeners = new Set<(port: SimPort, up: boolean) => void>();
  const pending = new Map<number, { resolve: (value: number | null) => void; reject: (error: Error) => void }>();
  let nextControlId = 0;
  let exited = false;
  let closed = false;

  const send = (message: ToBoard): void => {
    if (!exited) worker.postMessage(message);
  };

  const setPort = async (port: SimPort, up: boolean): Promise<void> => {
    const state = ports[port];
    if (state.up === up) return;
    state.up = up;
    state.detached = [];
    state.detachedBytes = 0;
    if (!up) await detach(port);
    for (const listener of [...portListeners]) listener(port, up);
  };

  const detach = async (port: SimPort): Promise<void> => {
    const state = ports[port];
    const link = state.link;
    if (!link) return;
    state.link = undefined;
    state.stopListening?.();
    state.stopListening = undefined;
    // Let what the board said last (an OK before a reboot) reach the host before the port goes.
    await state.writes;
    await new Promise((resolveTick) => setImmediate(resolveTick));
    await link.close().catch(() => undefined);
  };

  const deliver = (port: SimPort, bytes: Buffer): void => {
    const state = ports[port];
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
  };

  const ready = new Promise<void>((resolveReady, rejectReady) => {
    const timer = setTimeout(() => {
      rejectReady(new InfrastructureError(`simulated board ${profile.model} did not boot within ${START_DEADLINE_MS}ms`));
    }, START_DEADLINE_MS);
    worker.on('message', (message: FromBoard) => {
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
          deliver(message.port, Buffer.from(message.bytes));
          break;
        case 'port':
          void setPort(message.port, message.up);
          break;
        case 'reply': {
          const request = pending.get(message.id);
          pending.delete(message.id);
          if (message.ok) request?.resolve(message.value);
          else request?.reject(new InputError(`simulated board: ${message.error}`));
          break;
        }
        case 'log':
          options.onLog?.(message.message);
          break;
      }
    });
    worker.on('error', (error) => {
      clearTimeout(timer);
      rejectReady(new InfrastructureError(`simulated board ${profile.model} crashed: ${error.message}`));
      options.onLog?.(`board worker crashed: ${error.message}`);
    });
    worker.on('exit', (code) => {
      exited = true;
      clearTimeout(timer);
      rejectReady(new InfrastructureError(`simulated board ${profile.model} exited during boot (code ${code})`));
      for (const request of pending.values()) request.reject(new InfrastructureError(`simulated board ${profile.model} is gone`));
      pending.clear();
      for (const port of SIM_PORTS) void setPort(port, false);
    });
  });

  const request = (op: ControlOp): Promise<number | null> => {
    if (exited) return Promise.reject(new InfrastructureError(`simulated board ${profile.model} is closed`));
    const id = ++nextControlId;
    return new Promise<number | null>((resolveRequest, rejectRequest) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        rejectRequest(new InfrastructureError(`simulated board ${profile.model}: no answer to ${op.op} within ${CONTROL_DEADLINE_MS}ms`));
      }, CONTROL_DEADLINE_MS);
      pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolveRequest(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          rejectRequest(error);
        },
      });
      send({ type: 'control', id, request: op });
    });
  };

  try {
    await ready;
  } catch (error) {
    await worker.terminate();
    removeFilesystem();
    throw error;
  }

  const attach = (port: SimPort, link: Link): void => {
    const state = ports[port];
    if (closed) throw new InfrastructureError(`simulated board ${profile.model} is closed`);
    if (!state.up) throw new InfrastructureError(`${name}/${port}: the port is not present (board rebooting or unplugged)`);
    const previous = state.link;
    if (previous && previous !== link) {
      state.link = undefined;
      state.stopListening?.();
      void previous.close().catch(() => undefined);
    }
    state.link = link;
    const stopData = link.onData((bytes) => {
      if (state.link === link) send({ type: 'input', port, bytes });
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
    for (const bytes of backlog) deliver(port, bytes);
  };

  const board: SimBoard = {
    profile,
    hostLink(port) {
      const state = ports[port];
      if (state.hostLink && !state.hostLink.closed && state.link) return state.hostLink;
      if (!state.up) throw new InfrastructureError(`${name}/${port}: the port is not present (board rebooting or unplugged)`);
      const pair = memoryLinkPair(`${name}/${port}`);
      attach(port, pair.board);
      state.hostLink = pair.host;
      return pair.host;
    },
    attach,
    isPortUp: (port) => ports[port].up,
    onPortState(listener) {
      portListeners.add(listener);
      return () => portListeners.delete(listener);
    },
    waitForPort(port, up, timeoutMs) {
      if (ports[port].up === up) return Promise.resolve();
      return new Promise<void>((resolveWait, rejectWait) => {
        const timer = setTimeout(() => {
          stop();
          rejectWait(new InfrastructureError(`${name}/${port}: port did not ${up ? 'come back' : 'vanish'} within ${timeoutMs}ms`));
        }, timeoutMs);
        const stop = board.onPortState((changed, nowUp) => {
          if (changed !== port || nowUp !== up) return;
          clearTimeout(timer);
          stop();
          resolveWait();
        });
      });
    },
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
      await Promise.all(SIM_PORTS.map((port) => setPort(port, false)));
      await worker.terminate();
      removeFilesystem();
    },
  };
  return board;
}

function newPortState(): PortState {
  return { up: false, link: undefined, stopListening: undefined, hostLink: undefined, detached: [], detachedBytes: 0, writes: Promise.resolve() };
}
