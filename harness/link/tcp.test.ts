import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkClosedError } from '../core/errors.js';
import type { Link } from './link.js';
import { ProcNetTcp, type TcpConnectionState } from './tcp-health.js';
import { TcpLink } from './tcp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function server(onSocket: (socket: Socket) => void = () => undefined): Promise<{ server: Server; port: number }> {
  const srv = createServer((socket) => {
    cleanups.push(async () => socket.destroy());
    onSocket(socket);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  cleanups.push(() => new Promise((resolve) => srv.close(resolve)));
  return { server: srv, port };
}

function closed(link: Link): Promise<{ error: LinkClosedError | undefined; atMs: number }> {
  return new Promise((resolve) => link.onClose((error) => resolve({ error, atMs: performance.now() })));
}

const healthy: TcpConnectionState = { unacknowledgedBytes: 0, retransmits: 0, probesUnanswered: 0, timer: 2 };

describe('TCP link: a far end that vanished without closing', () => {
  it('closes once sent bytes stay unacknowledged past the deadline, saying so', async () => {
    const { port } = await server();
    let state = healthy;
    const link = await TcpLink.open(`tcp://127.0.0.1:${port}`, {
      ackDeadlineMs: 300,
      healthIntervalMs: 20,
      connections: { state: async () => state },
    });
    cleanups.push(() => link.close());
    const linkClosed = closed(link);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(link.closed).toBe(false);
    const lostAtMs = performance.now();
    state = { unacknowledgedBytes: 9, retransmits: 2, probesUnanswered: 0, timer: 1 };
    const { error, atMs } = await linkClosed;
    expect(atMs - lostAtMs).toBeGreaterThanOrEqual(280);
    expect(atMs - lostAtMs).toBeLessThan(1000);
    expect(error).toBeInstanceOf(LinkClosedError);
    expect(error?.message).toContain(`tcp://127.0.0.1:${port}`);
    expect(error?.message).toMatch(/acknowledged nothing for 300ms \(9 sent bytes unanswered\)/);
    await expect(link.write(Buffer.from('AT\r'))).rejects.toBeInstanceOf(LinkClosedError);
  });

  it('closes when a keepalive probe stays unanswered, and not while the far end answers', async () => {
    const { port } = await server();
    let state = healthy;
    const link = await TcpLink.open(`tcp://127.0.0.1:${port}`, {
      ackDeadlineMs: 200,
      healthIntervalMs: 20,
      connections: { state: async () => state },
    });
    cleanups.push(() => link.close());
    const linkClosed = closed(link);
    // Answered in time: a probe seen out for less than the deadline is no verdict.
    state = { ...healthy, probesUnanswered: 1 };
    await new Promise((resolve) => setTimeout(resolve, 100));
    state = healthy;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(link.closed).toBe(false);
    state = { ...healthy, probesUnanswered: 1 };
    expect((await linkClosed).error?.message).toMatch(/a keepalive probe unanswered/);
  });

  it('rejects a write the far end never takes (it stopped reading) within its deadline', async () => {
    const { port } = await server((socket) => socket.pause());
    const link = await TcpLink.open(`tcp://127.0.0.1:${port}`, { writeDeadlineMs: 300 });
    cleanups.push(() => link.close());
    const startMs = performance.now();
    // More than the loopback socket buffers hold both ways, so most of it waits in Node.
    const write = link.write(Buffer.alloc(64 * 1024 * 1024, 'x'));
    await expect(write).rejects.toThrow(/write not taken for 300ms \(the far end stopped reading\)/);
    expect(performance.now() - startMs).toBeLessThan(2000);
    expect(link.closed).toBe(true);
  });

  it.skipIf(process.platform !== 'linux')('arms TCP keepalive on its connection (a plain socket has none)', async () => {
    const accepted: Socket[] = [];
    const { port } = await server((socket) => accepted.push(socket));
    const link = await TcpLink.open(`tcp://127.0.0.1:${port}`);
    cleanups.push(() => link.close());
    const plain = connect({ host: '127.0.0.1', port });
    cleanups.push(async () => plain.destroy());
    await new Promise((resolve) => plain.once('connect', resolve));
    while (accepted.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    // The client ends as the kernel lists them, found from the server's side of each connection.
    const table = new ProcNetTcp();
    const clientState = (socket: Socket): Promise<TcpConnectionState | undefined> =>
      table.state({ localPort: socket.remotePort ?? 0, remotePort: port, family: 'IPv4' });
    const timers = await Promise.all(accepted.map(clientState));
    const plainIndex = accepted.findIndex((socket) => socket.remotePort === plain.localPort);
    expect(timers[plainIndex]?.timer).toBe(0);
    expect(timers[1 - plainIndex]?.timer).toBe(2);
  });
});
