import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ModemModel } from './modem.js';
import { NetBridge } from './net-bridge.js';
import { resolveBoardProfile } from './board.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function echoServer(): Promise<number> {
  const server = createServer((socket) => socket.pipe(socket));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

async function bridge(hosts: Record<string, string> = {}): Promise<{ net: NetBridge; modem: ModemModel }> {
  const modem = new ModemModel({ ...resolveBoardProfile('ec200u'), hosts });
  await modem.activate(1);
  return { net: new NetBridge(modem, () => undefined), modem };
}

const signal = new AbortController().signal;

describe("the simulated board's TCP bridge", () => {
  it('talks to loopback: connect, send, recv, close; a name the host map forwards keeps its port', async () => {
    const port = await echoServer();
    const { net } = await bridge({ 'broker.example': `127.0.0.1:${port}` });
    expect(await net.call('usock_resolve', ['broker.example', 1883], signal)).toEqual(['127.0.0.1', port]);
    const id = await net.call('usock_connect', ['127.0.0.1', port, 2000], signal);
    expect(await net.call('usock_send', [id, Buffer.from('hello').toString('hex')], signal)).toBe(5);
    expect(Buffer.from(String(await net.call('usock_recv', [id, 100, 2000], signal)), 'hex').toString()).toBe('hello');
    // Nothing more: a timed recv gives null, and so does a non-blocking one.
    expect(await net.call('usock_recv', [id, 100, 50], signal)).toBeNull();
    expect(await net.call('usock_recv', [id, 100, 0], signal)).toBeNull();
    await net.call('usock_close', [id], signal);
    await expect(net.call('usock_send', [id, '00'], signal)).rejects.toThrow(/\[Errno 107\]/);
  });

  it('never leaves loopback, and needs a data call to resolve', async () => {
    const { net, modem } = await bridge();
    await expect(net.call('usock_resolve', ['example.com', 1883], signal)).rejects.toThrow(/\[Errno 202\].*loopback only/);
    await expect(net.call('usock_connect', ['10.0.0.1', 1883, 500], signal)).rejects.toThrow(/\[Errno 113\].*loopback only/);
    modem.deactivate(1);
    await expect(net.call('usock_resolve', ['127.0.0.1', 1883], signal)).rejects.toThrow(/\[Errno 202\].*no data call/);
  });

  it('refuses a closed port with ECONNREFUSED', async () => {
    const port = await echoServer();
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const { net } = await bridge();
    await expect(net.call('usock_connect', ['127.0.0.1', port, 2000], signal)).rejects.toThrow(/\[Errno 111\]/);
  });
});
