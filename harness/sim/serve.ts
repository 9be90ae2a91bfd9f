import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { errorMessage, InfrastructureError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { SerialLink } from '../link/serial.js';
import type { SimBoard } from './board.js';
import { SIM_PORTS, type SimPort } from './protocol.js';

export { SER2NET_DEVICE_GONE, serveTcp, type ServeTcpOptions } from './serve-tcp.js';

/** Deadline for socat to create its pseudo-terminal links. */
const SOCAT_START_DEADLINE_MS = 5000;
const SOCAT_POLL_MS = 10;
/** Deadline for socat to exit after SIGTERM before it is killed. */
const SOCAT_STOP_DEADLINE_MS = 1000;
/**
 * Deadline for a write to the board's end of its own PTY pair. SerialLink's default (1 s) is for a
 * device that may vanish; this one only vanishes with its socat, which is watched. A starved process
 * (a loaded machine) can take over a second to run a write's callback, and a write declared late
 * closed the board's link: the port went dead for good, with nothing logged (mpremote: "could not
 * enter raw repl").
 */
const BOARD_WRITE_DEADLINE_MS = 30_000;
/** util-linux's setpriv (essential on Debian): runs socat with a parent-death signal, see socatCommand. */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];

export interface ServedBoard {
  /** Where each port is: a device path (PTY) or `tcp://127.0.0.1:<port>`. */
  readonly ports: Record<SimPort, string>;
  /** Stops serving: socat stopped and its links gone (PTY), listeners closed (TCP). */
  close(): Promise<void>;
}

export interface ServePtyOptions {
  /** Folder for the links (`<dir>/repl`, `<dir>/at`); default: a fresh temp folder, removed on close. */
  dir?: string;
  /** socat's path; default `socat` on PATH. */
  socatPath?: string;
  onLog?: (message: string) => void;
}

/**
 * socat has no option to die with its parent, and a `qhil sim` killed with SIGKILL cannot stop it: run
 * it under `setpriv --pdeathsig KILL`, which sets PR_SET_PDEATHSIG and execs socat (same pid), so the
 * kernel kills socat when the thread that spawned it ends, however the process dies. Without setpriv
 * (not Linux) socat is run as is and only an orderly stop ends it.
 */
export function socatCommand(socatPath: string, args: string[]): { file: string; args: string[] } {
  const setpriv = process.platform === 'linux' ? SETPRIV_PATHS.find((path) => existsSync(path)) : undefined;
  return setpriv ? { file: setpriv, args: ['--pdeathsig', 'KILL', socatPath, ...args] } : { file: socatPath, args };
}

interface PtyServer {
  socat: ResultPromise;
  /** Replaced when it closes by itself while the port is served (see reattachWhenClosed). */
  boardLink: Link;
}

/**
 * Serves a board's ports on pseudo-terminals, as a USB board's ports appear: one socat per port
 * links `<dir>/<port>` (for the user's tools) to `<dir>/<port>.board` (opened here with SerialLink
 * and attached to the board). When a port vanishes (reboot, unplug) its socat is stopped, so the
 * link disappears and whoever has it open sees the port close; when it comes back a new socat
 * serves the same path, as udev's by-id names do. A board that is unplugged when serving starts
 * (`usb-disconnect` from power-on) has no paths until it is back.
 */
export async function servePty(board: SimBoard, options: ServePtyOptions = {}): Promise<ServedBoard> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'qhil-sim-'));
  const socatPath = options.socatPath ?? 'socat';
  const running = new Map<SimPort, PtyServer>();
  /**
   * Per port, the one chain of start/stop work: a port that vanishes and comes back while its socat
   * is still starting is settled in order, never by two socats on one path.
   */
  const work: Record<SimPort, Promise<void>> = { repl: Promise.resolve(), at: Promise.resolve() };
  let closed = false;

  const stopPort = async (port: SimPort): Promise<void> => {
    const entry = running.get(port);
    if (!entry) return;
    running.delete(port);
    await entry.boardLink.close().catch(() => undefined);
    await stopProcess(entry.socat);
  };

  /** Starts socat for `port` and attaches it; undefined when the port vanished (or close came) meanwhile. */
  const startPort = async (port: SimPort): Promise<PtyServer | undefined> => {
    const hostPath = join(dir, port);
    const boardPath = join(dir, `${port}.board`);
    const command = socatCommand(socatPath, ['-d', '-d', `pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${boardPath}`]);
    const socat = execa(command.file, command.args, { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
    let spawnError: string | undefined;
    socat.catch((error: unknown) => {
      spawnError = errorMessage(error);
    });
    const wanted = (): boolean => !closed && board.isPortUp(port);
    const startedMs = performance.now();
    while (!(existsSync(hostPath) && existsSync(boardPath))) {
      if (!wanted()) {
        await stopProcess(socat);
        return undefined;
      }
      if (spawnError !== undefined || socat.exitCode !== null) {
        throw new InfrastructureError(`cannot serve ${port} on ${hostPath}: socat exited (${spawnError ?? `code ${socat.exitCode}`})`);
      }
      if (performance.now() - startedMs > SOCAT_START_DEADLINE_MS) {
        await stopProcess(socat);
        throw new InfrastructureError(`cannot serve ${port}: socat did not create ${hostPath} within ${SOCAT_START_DEADLINE_MS}ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, SOCAT_POLL_MS));
    }
    let boardLink: Link;
    try {
      boardLink = await openBoardLink(boardPath);
    } catch (error) {
      await stopProcess(socat);
      throw error;
    }
    const entry: PtyServer = { socat, boardLink };
    if (wanted()) {
      try {
        board.attach(port, boardLink);
      } catch (error) {
        // Only a port that went away again (or a board that closed) refuses; anything else is news.
        if (wanted()) {
          await stopEntry(entry);
          throw error;
        }
      }
    }
    if (!wanted()) {
      await stopEntry(entry);
      return undefined;
    }
    // socat gone by itself (killed): the port is no longer served; the host side sees it close.
    void socat.then(() => {
      if (running.get(port) !== entry) return;
      running.delete(port);
      options.onLog?.(`socat for ${port} exited`);
      void entry.boardLink.close().catch(() => undefined);
    });
    reattachWhenClosed(port, entry, boardPath);
    return entry;
  };

  /**
   * The board's link closed by itself (an error: a failed or late write) while socat still serves it:
   * said in the log, and a fresh link to the same PTY is attached, so the host's open port keeps
   * working instead of going silent. If that fails the port is stopped, and the host sees it close.
   * A close without an error is deliberate (ours, or the board giving the port to another link).
   */
  const reattachWhenClosed = (port: SimPort, entry: PtyServer, boardPath: string): void => {
    const link = entry.boardLink;
    const stopWatching = link.onClose((error) => {
      stopWatching();
      const served = (): boolean => running.get(port) === entry && entry.boardLink === link && !closed && board.isPortUp(port);
      if (!error || !served()) return;
      options.onLog?.(`board side of ${port} closed (${error.message}); attaching it again`);
      const next = work[port].then(async () => {
        if (!served()) return;
        try {
          const fresh = await openBoardLink(boardPath);
          if (!served()) {
            await fresh.close().catch(() => undefined);
            return;
          }
          entry.boardLink = fresh;
          board.attach(port, fresh);
          reattachWhenClosed(port, entry, boardPath);
        } catch (reopenError) {
          options.onLog?.(`cannot attach ${port} again (${errorMessage(reopenError)}); the port is stopped`);
          if (running.get(port) === entry) await stopPort(port);
        }
      });
      work[port] = next.catch(() => undefined);
    });
  };

  /** Brings `port` to what the board says (served while up, not while absent), in order, once per change. */
  const settle = (port: SimPort): Promise<void> => {
    const next = work[port].then(async () => {
      for (;;) {
        const want = !closed && board.isPortUp(port);
        const have = running.has(port);
        if (want === have) return;
        if (!want) {
          await stopPort(port);
          continue;
        }
        const entry = await startPort(port);
        if (entry) running.set(port, entry);
        else if (!closed && board.isPortUp(port)) continue;
        else return;
      }
    });
    work[port] = next.catch(() => undefined);
    return next;
  };

  const stopListening = board.onPortState((port, up) => {
    if (closed) return;
    options.onLog?.(up ? `${port} is back` : `${port} is gone (board rebooting or unplugged)`);
    settle(port).catch((error: unknown) => options.onLog?.(`cannot serve ${port} again: ${errorMessage(error)}`));
  });

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    stopListening();
    // A port coming back may be starting its socat: settling after `closed` waits for that and stops it.
    await Promise.allSettled(SIM_PORTS.map((port) => settle(port)));
    await Promise.all(SIM_PORTS.map((port) => stopPort(port)));
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const port of SIM_PORTS) await settle(port);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    ports: { repl: join(dir, 'repl'), at: join(dir, 'at') },
    close,
  };
}

function openBoardLink(boardPath: string): Promise<Link> {
  return SerialLink.open(boardPath, { writeDeadlineMs: BOARD_WRITE_DEADLINE_MS });
}

async function stopEntry(entry: PtyServer): Promise<void> {
  await entry.boardLink.close().catch(() => undefined);
  await stopProcess(entry.socat);
}

async function stopProcess(child: ResultPromise): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), SOCAT_STOP_DEADLINE_MS);
  await child.catch(() => undefined);
  clearTimeout(timer);
}
