/** A simulated board's ports as raw TCP serial servers (ser2net); serve.ts re-exports it beside servePty. */
import { createServer, type Server, type Socket } from 'node:net';
import { InfrastructureError } from '../core/errors.js';
import { TcpLink } from '../link/tcp.js';
import type { SimBoard } from './board.js';
import { SIM_PORTS, type SimPort } from './protocol.js';
import type { ServedBoard } from './serve.js';

export interface ServeTcpOptions {
  /** REPL port; 0 picks a free one. Default 0. */
  replPort?: number;
  /** AT port; default replPort + 1 (0 when replPort is 0). */
  atPort?: number;
  /** Listen address; loopback only by default. */
  host?: string;
}

/**
 * What ser2net (4.x, dataxfer.c) writes to a client that connects while the device cannot be opened,
 * before it closes the connection. gensio's text for ENOENT (a USB port that is not there).
 */
export const SER2NET_DEVICE_GONE = 'Device open failure: Value or file not found\r\n';

/**
 * Serves a board's ports as raw TCP serial servers, as ser2net does with the board's USB ports behind
 * it. What ser2net really does, and so what this does:
 * - its listening socket stays up whether or not the device exists: a TCP connect always succeeds,
 *   even while the board is unplugged or rebooting;
 * - on each new connection it opens the device; when that fails it writes SER2NET_DEVICE_GONE and
 *   closes the connection at once (so does this while a port is absent);
 * - when the device vanishes under an open connection (read error), it closes that connection.
 * So a TCP connect never means "the board is back": a client must probe (send AT, get OK; get the
 * REPL prompt) before it trusts the port again. One client per port: a new connection replaces the
 * old one (ser2net's `kickolduser`).
 */
export async function serveTcp(board: SimBoard, options: ServeTcpOptions = {}): Promise<ServedBoard> {
  const host = options.host ?? '127.0.0.1';
  const replPort = options.replPort ?? 0;
  const wanted: Record<SimPort, number> = { repl: replPort, at: options.atPort ?? (replPort === 0 ? 0 : replPort + 1) };
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const ports = {} as Record<SimPort, string>;

  const refuse = (socket: Socket): void => {
    socket.on('error', () => undefined);
    socket.end(SER2NET_DEVICE_GONE, () => socket.destroy());
  };

  const listen = (port: SimPort): Promise<string> =>
    new Promise((resolve, reject) => {
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        if (!board.isPortUp(port)) {
          refuse(socket);
          return;
        }
        const link = new TcpLink(`${ports[port]} (board side)`, socket);
        try {
          board.attach(port, link);
        } catch {
          refuse(socket);
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
