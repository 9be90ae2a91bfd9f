/** The test server seen from the wire, as a board's firmware or chronyd would see it. */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { signNtpPacket, verifyNtpMac } from './auth.js';
import { buildRequest } from './client.js';
import type { SntpKey } from './keys.js';
import { decodeNtpPacket, formatRefId, ntpToUnixMs, type NtpPacket } from './packet.js';
import { startSntpServer, type SntpServer } from './server.js';

const started: SntpServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

async function serve(options: Parameters<typeof startSntpServer>[0] = {}) {
  const server = await startSntpServer(options);
  started.push(server);
  return server;
}

/** Sends one datagram and collects whatever comes back within `waitMs`. */
async function exchange(server: SntpServer, request: Buffer, waitMs = 150): Promise<Buffer[]> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (message) => replies.push(message));
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    socket.send(request, server.port, server.address);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  } finally {
    socket.close();
  }
  return replies;
}

const key: SntpKey = { id: 5, type: 'SHA1', key: Buffer.from('server-test-key') };

describe('SNTP server', () => {
  it('answers the 48-byte 0x1b request QuecPython ntptime sends, time at bytes 40..47', async () => {
    const server = await serve({ offsetMs: 7000 });
    const request = Buffer.alloc(48);
    request[0] = 0x1b;
    const [reply, ...more] = await exchange(server, request);
    expect(more).toEqual([]);
    const packet = decodeNtpPacket(reply as Buffer);
    expect(packet).toMatchObject({ leap: 0, version: 3, mode: 4, stratum: 1, originTs: 0n });
    expect(formatRefId(packet.refId, packet.stratum)).toBe('LOCL');
    // What ntptime does: seconds from bytes 40..43 only.
    const servedMs = ntpToUnixMs(BigInt((reply as Buffer).readUInt32BE(40)) << 32n);
    expect(Math.abs(servedMs - (Date.now() + 7000))).toBeLessThan(1500);
    expect(server.requests).toBe(1);
  });

  it('copies the v4 transmit timestamp into origin, with T2 <= T3', async () => {
    const server = await serve({ stratum: 2, refId: '192.0.2.9', leap: 1 });
    const [reply] = await exchange(server, buildRequest(0xabcdef0123456789n));
    const packet = decodeNtpPacket(reply as Buffer);
    expect(packet).toMatchObject({ version: 4, mode: 4, stratum: 2, leap: 1, originTs: 0xabcdef0123456789n });
    expect(formatRefId(packet.refId, 2)).toBe('192.0.2.9');
    expect(packet.transmitTs >= packet.receiveTs).toBe(true);
  });

  it('ignores anything that is not a client request', async () => {
    const server = await serve();
    const serverMode = buildRequest(1n);
    serverMode[0] = 0x24;
    expect(await exchange(server, serverMode)).toEqual([]);
    expect(await exchange(server, Buffer.from('hello'))).toEqual([]);
    expect(server.requests).toBe(2);
  });

  it('signs replies to signed requests, and answers unsigned ones unsigned, like chrony', async () => {
    const server = await serve({ keys: [key] });
    const [signed] = await exchange(server, buildRequest(2n, key));
    expect(verifyNtpMac(signed as Buffer, [key])).toEqual({ ok: true, key });
    const [plain] = await exchange(server, buildRequest(3n));
    expect(plain).toHaveLength(48);
  });

  it('drops requests with a bad MAC or an unknown key silently, and unsigned ones when told to', async () => {
    const server = await serve({ keys: [key] });
    const bad = buildRequest(4n, key);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    expect(await exchange(server, bad)).toEqual([]);
    expect(await exchange(server, signNtpPacket(buildRequest(5n), { ...key, id: 6 }))).toEqual([]);
    server.configure({ requireAuth: true });
    expect(await exchange(server, buildRequest(6n))).toEqual([]);
    expect(server.requests).toBe(3);
  });

  it('sends a kiss-o-death as ntpd does: LI=3, stratum 0, the code as refid, no usable time', async () => {
    const server = await serve({ kiss: 'RATE' });
    const [reply] = await exchange(server, buildRequest(0x77n));
    const packet: NtpPacket = decodeNtpPacket(reply as Buffer);
    expect(packet).toMatchObject({ leap: 3, stratum: 0, originTs: 0x77n, receiveTs: 0x77n, transmitTs: 0x77n });
    expect(packet.refId.toString()).toBe('RATE');
  });

  it('sends forged replies ahead of the genuine one, the wrong-port one from another port', async () => {
    const server = await serve({ forge: ['wrong-origin', 'wrong-port', 'mode3'] });
    const socket = createSocket('udp4');
    const from: number[] = [];
    socket.on('message', (_message, rinfo) => from.push(rinfo.port));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    socket.send(buildRequest(8n), server.port, server.address);
    await new Promise((resolve) => setTimeout(resolve, 150));
    socket.close();
    expect(from).toHaveLength(4);
    expect(from.filter((port) => port !== server.port)).toHaveLength(1);
    expect(from.at(-1)).toBe(server.port);
  });

  it('stays silent when dropping, and stops after close', async () => {
    const server = await serve({ drop: true });
    expect(await exchange(server, buildRequest(9n))).toEqual([]);
    server.configure({ drop: false });
    expect(await exchange(server, buildRequest(10n))).toHaveLength(1);
    await server.close();
    await server.close();
    expect(await exchange(server, buildRequest(11n), 50)).toEqual([]);
  });
});
