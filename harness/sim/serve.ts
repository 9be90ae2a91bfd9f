import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { errorMessage, InfrastructureError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { SerialLink } from '../link/serial.js';
import { TcpLink } from '../link/tcp.js';
import type { SimBoard } from './board.js';
import { SIM_PORTS, type SimPort } from './protocol.js';

/** Deadline for socat to create its pseudo-terminal links. */
const SOCAT_START_DEADLINE_MS = 5000;
const SOCAT_POLL_MS = 10;
/** Deadline for socat to exit after SIGTERM before it is killed. */
const SOCAT_STOP_DEADLINE_MS = 1000;

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
 * Serves a board's ports on pseudo-terminals, as a USB board's ports appear: one socat per port
 * links `<dir>/<port>` (for the user's tools) to `<dir>/<port>.board` (opened here with SerialLink
 * and attached to the board). When a port vanishes (reboot, unplug) its socat is stopped, so the
 * link disappears and whoever has it open sees the port close; when it comes back a new socat
 * serves the same path, as udev's by-id names do.
 */
export async function servePty(board: SimBoard, options: ServePtyOptions = {}): Promise<ServedBoard> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'qhil-sim-'));
  const socatPath = options.socatPath ?? 'socat';
  const running = new Map<SimPort, { socat: ResultPromise; boardLink: Link }>();
  /** startPort calls under way (a port coming back): close() waits for them, and they stop what they started. */
  const starting = new Set<Promise<void>>();
  let closed = false;

  const stopPort = async (port: SimPort): Promise<void> => {
    const entry = running.get(port);
    if (!entry) return;
    running.delete(port);
    await entry.boardLink.close().catch(() => undefined);
    await stopProcess(entry.socat);
  };

  const startPort = (port: SimPort): Promise<void> => {
    const started = startPortNow(port).finally(() => starting.delete(started));
    starting.add(started);
    return started;
  };

  /** Serves `port`; if close() came meanwhile, stops what it started and resolves. */
  const startPortNow = async (port: SimPort): Promise<void> => {
    if (closed) return;
    const hostPath = join(dir, port);
    const boardPath = join(dir, `${port}.board`);
    const socat = execa(socatPath, ['-d', '-d', `pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${boardPath}`], {
      reject: false,
      stdin: 'ignore',
      stdout: 'ignore',
      stderr: 'pipe',
    });
    let spawnError: string | undefined;
    socat.catch((error: unknown) => {
      spawnError = errorMessage(error);
    });
    const startedMs = performance.now();
    while (!(existsSync(hostPath) && existsSync(boardPath))) {
      if (closed) {
        await stopProcess(socat);
        return;
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
    let boardLink: SerialLink;
    try {
      boardLink = await SerialLink.open(boardPath);
    } catch (error) {
      await stopProcess(socat);
      throw error;
    }
    if (closed) {
      await boardLink.close().catch(() => undefined);
      await stopProcess(socat);
      return;
    }
    running.set(port, { socat, boardLink });
    // socat gone by itself (killed): the port is no longer served; the host side sees it close.
    void socat.then(() => {
      if (running.get(port)?.socat === socat) {
        running.delete(port);
        options.onLog?.(`socat for ${port} exited`);
        void boardLink.close().catch(() => undefined);
      }
    });
    try {
      board.attach(port, boardLink);
    } catch (error) {
      // The port went away again (or the board closed) while socat was starting.
      await stopPort(port);
      throw error;
    }
  };

  const stopListening = board.onPortState((port, up) => {
    if (closed) return;
    if (!up) void stopPort(port);
    else startPort(port).catch((error: unknown) => options.onLog?.(`cannot serve ${port} again: ${errorMessage(error)}`));
  });

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    stopListening();
    // A port coming back may be between spawning socat and putting it in `running`: let it finish
    // (it sees `closed` and stops its socat), then stop whatever is running.
    await Promise.allSettled([...starting]);
    await Promise.all(SIM_PORTS.map((port) => stopPort(port)));
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const port of SIM_PORTS) await startPort(port);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    ports: { repl: join(dir, 'repl'), at: join(dir, 'at') },
    close,
  };
}

async function stopProcess(child: ResultPromise): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), SOCAT_STOP_DEADLINE_MS);
  await child.catch(() => undefined);
  clearTimeout(timer);
}

export interface ServeTcpOptions {
  /** REPL port; 0 picks a free one. Default 0. */
  replPort?: number;
  /** AT port; default replPort + 1 (0 when replPort is 0). */
  atPort?: number;
  /** Listen address; loopback only by default. */
  host?: string;
}

/**
 * Serves a board's ports as raw TCP serial servers (what ser2net offers): one client per port; a new
 * connection replaces the old one. While a port is absent (reboot, unplug) the current client is
 * disconnected and new connections are closed at once.
 */
export async function serveTcp(board: SimBoard, options: ServeTcpOptions = {}): Promise<ServedBoard> {
  const host = options.host ?? '127.0.0.1';
  const replPort = options.replPort ?? 0;
  const wanted: Record<SimPort, number> = { repl: replPort, at: options.atPort ?? (replPort === 0 ? 0 : replPort + 1) };
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const ports = {} as Record<SimPort, string>;

  const listen = (port: SimPort): Promise<string> =>
    new Promise((resolve, reject) => {
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        if (!board.isPortUp(port)) {
          socket.destroy();
          return;
        }
        const link = new TcpLink(`${ports[port]} (board side)`, socket);
        try {
          board.attach(port, link);
        } catch {
          socket.destroy();
        }
      });
      server.once('error', (error) => reject(new InfrastructureError(`cannot serve ${port} on ${host}:${wanted[port]}: ${error.message}`)));
      server.listen(wanted[port], host, () => {
        servers.push(server);
        const address = server.address();
        const actual = typeof address === 'object' && address ? address.port : wanted[port];
        resolve(`tcp://${host.includes(':') ? `[${host}]` : host}:${actual}`);
      });
    });

  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    servers.length = 0;
  };

  try {
    for (const port of SIM_PORTS) ports[port] = await listen(port);
  } catch (error) {
    await close();
    throw error;
  }
  return { ports, close };
}
