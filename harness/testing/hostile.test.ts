/**
 * The fault-matrix suite's hostile peers behave as named: fake boards (hostile-board.ts) over a socat
 * PTY and loopback TCP, and forged SNTP servers (forged-sntp.ts). Raw bytes only, so these tests hold
 * whatever the harness's channels do with them.
 */
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeNtpPacket, encodeNtpHeader, kissCode, ntpToUnixMs, unixMsToNtp, type NtpPacket } from '../clock/sntp/packet.js';
import type { Link } from '../link/link.js';
import { SerialLink } from '../link/serial.js';
import { TcpLink } from '../link/tcp.js';
import { ForgedSntpServer, HUNDRED_YEARS_MS, type ForgedSntpOptions } from './forged-sntp.js';
import { CTRL_D_STDOUT, HOSTILE_LINE, HOSTILE_OUTPUT, HostileBoard, TRICKLE_TEXT, UTF8_STDOUT, type HostileBoardOptions } from './hostile-board.js';
import { skipWithoutSocat, socatPidsFor } from './socat.js';

const boards: HostileBoard[] = [];
const links: Link[] = [];
const servers: ForgedSntpServer[] = [];

afterEach(async () => {
  await Promise.allSettled(links.splice(0).map((link) => link.close()));
  await Promise.allSettled(boards.splice(0).map((board) => board.stop()));
  await Promise.allSettled(servers.splice(0).map((server) => server.stop()));
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a peer and opens the host's end; `received()` is everything that came back so far (latin1). */
async function open(options: HostileBoardOptions): Promise<{ board: HostileBoard; address: string; link: Link; received: () => string; bytes: () => number }> {
  const board = new HostileBoard(options);
  boards.push(board);
  const address = await board.start();
  const link = address.startsWith('tcp://') ? await TcpLink.open(address) : await SerialLink.open(address);
  links.push(link);
  let text = '';
  let count = 0;
  link.onData((bytes) => {
    count += bytes.length;
    // The flood would grow this without end: keep only what an assertion can need.
    if (text.length < 1 << 16) text += bytes.toString('latin1');
  });
  return { board, address, link, received: () => text, bytes: () => count };
}

/** Waits until `check` holds, at most `deadlineMs`. */
async function until(check: () => boolean, deadlineMs = 1000): Promise<void> {
  const endMs = performance.now() + deadlineMs;
  while (!check() && performance.now() < endMs) await sleep(10);
}

const send = (link: Link, text: string | Buffer): Promise<void> => link.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);

/** Enters the raw REPL and runs `code`; resolves to the raw framed answer, from "OK" to the prompt. */
async function rawExec(peer: Awaited<ReturnType<typeof open>>, code: string): Promise<string> {
  const before = peer.received().length;
  await send(peer.link, '\r\x03\x03\r\x01');
  await until(() => peer.received().slice(before).endsWith('raw REPL; CTRL-B to exit\r\n>'));
  const from = peer.received().length;
  await send(peer.link, `${code}\x04`);
  await until(() => peer.received().slice(from).endsWith('\x04\x04>'));
  return peer.received().slice(from);
}

describe.skipIf(skipWithoutSocat)('hostile boards', () => {
  it('silent: takes bytes, never answers (PTY); stop leaves no socat', async () => {
    const peer = await open({ behaviour: 'silent' });
    await send(peer.link, 'AT\r\r\x03\x01');
    await until(() => peer.board.bytesReceived >= 6);
    await sleep(200);
    expect(peer.board.bytesReceived).toBe(6);
    expect(peer.bytes()).toBe(0);
    expect(await socatPidsFor(peer.address)).toHaveLength(1);
    await peer.board.stop();
    expect(await socatPidsFor(peer.address)).toEqual([]);
  });

  it('trickle: once spoken to, one byte per 100 ms with no line end', async () => {
    const peer = await open({ behaviour: 'trickle', transport: 'tcp' });
    await sleep(150);
    expect(peer.bytes()).toBe(0);
    await send(peer.link, 'AT\r');
    await sleep(550);
    expect(peer.bytes()).toBeGreaterThanOrEqual(4);
    expect(peer.bytes()).toBeLessThanOrEqual(7);
    expect(TRICKLE_TEXT.repeat(2).startsWith(peer.received())).toBe(true);
  });

  it('flood: once spoken to, megabytes as fast as the port takes them', async () => {
    const peer = await open({ behaviour: 'flood', transport: 'tcp' });
    await send(peer.link, '\r');
    await sleep(300);
    expect(peer.bytes()).toBeGreaterThan(1 << 20);
    expect(peer.board.bytesSent).toBeGreaterThan(1 << 20);
  });

  it('hostile: AT identity and output carry escapes, OSC 52, NULs, </failure>, fences; raw REPL too', async () => {
    const peer = await open({ behaviour: 'hostile', transport: 'tcp' });
    await send(peer.link, 'AT\r');
    await until(() => peer.received().includes('\r\nOK\r\n'));
    for (const command of ['ATI', 'AT+GMR', 'AT+CGSN']) {
      const from = peer.received().length;
      await send(peer.link, `${command}\r`);
      await until(() => peer.received().slice(from).endsWith('\r\nOK\r\n'));
      const answer = peer.received().slice(from);
      expect(answer.startsWith(`${command}\r\r\n`)).toBe(true);
      expect(answer).toContain(HOSTILE_LINE);
    }
    for (const needle of ['\x1b]52;c;', '\x00', '</failure>', '```', '\x1b[2J']) expect(HOSTILE_LINE).toContain(needle);
    const identity = await rawExec(peer, 'print(repr(_qhil_identify()))');
    // As a board's repr prints it: the escapes escaped, so a parser of the answer gets the raw bytes back.
    expect(identity).toMatch(/^OK\{'uname': \('sysname=EC200U-EU\\x1b\[2J/);
    expect(identity).not.toContain('\x1b');
    expect(await rawExec(peer, "print('hi')")).toBe(`OK${HOSTILE_OUTPUT}\x04\x04>`);
  });

  it('ctrl-d: the raw REPL stdout contains \\x04 (PTY)', async () => {
    const peer = await open({ behaviour: 'ctrl-d' });
    const answer = await rawExec(peer, "print('x')");
    expect(answer).toBe(`OK${CTRL_D_STDOUT}\x04\x04>`);
    expect(CTRL_D_STDOUT).toContain('\x04');
  });

  it("utf8: prints 'é€中' and an invalid byte; the identity is UTF-8", async () => {
    const peer = await open({ behaviour: 'utf8', transport: 'tcp' });
    await send(peer.link, 'ATI\r');
    await until(() => peer.received().endsWith('\r\nOK\r\n'));
    expect(Buffer.from(peer.received(), 'latin1').toString('utf8')).toContain('EC200U-EU é€中');
    const answer = await rawExec(peer, "print('é€中')");
    expect(Buffer.from(answer, 'latin1')).toEqual(Buffer.concat([Buffer.from('OK'), UTF8_STDOUT, Buffer.from('\x04\x04>')]));
  });

  it('vanish-after (PTY): answers, then its path is gone 300 ms after the host first spoke', async () => {
    const peer = await open({ behaviour: 'vanish-after', vanishAfterMs: 300 });
    const closed = new Promise<number>((resolve) => peer.link.onClose(() => resolve(performance.now())));
    const spokeMs = performance.now();
    await send(peer.link, 'AT\r');
    await until(() => peer.received().includes('\r\nOK\r\n'));
    expect(peer.received()).toContain('\r\nOK\r\n');
    expect(peer.board.vanished).toBe(false);
    await until(() => peer.board.vanished && !existsSync(peer.address), 1500);
    expect(peer.board.vanished).toBe(true);
    expect(performance.now() - spokeMs).toBeGreaterThanOrEqual(290);
    expect(existsSync(peer.address)).toBe(false);
    expect(await socatPidsFor(peer.address)).toEqual([]);
    // The host's own end notices too (the link's business; bounded here so a miss shows as a failure).
    expect(await Promise.race([closed, sleep(1500).then(() => 'not closed')])).not.toBe('not closed');
  });

  it('vanish-after (TCP): the connection is cut and new ones are refused', async () => {
    const peer = await open({ behaviour: 'vanish-after', transport: 'tcp', vanishAfterMs: 100 });
    const closed = new Promise<void>((resolve) => peer.link.onClose(() => resolve()));
    await send(peer.link, 'AT\r');
    await closed;
    expect(peer.received()).toContain('\r\nOK\r\n');
    await expect(TcpLink.open(peer.address)).rejects.toThrow(/ECONNREFUSED/);
  });
});

/** One SNTP exchange with `address`; resolves to every reply within `waitMs`, with the request's transmit time. */
async function query(address: string, waitMs: number): Promise<{ sentTs: bigint; replies: { packet: NtpPacket; afterMs: number }[] }> {
  const [host, port] = address.split(':');
  const socket = createSocket('udp4');
  const replies: { packet: NtpPacket; afterMs: number }[] = [];
  const sentMs = performance.now();
  socket.on('message', (message) => replies.push({ packet: decodeNtpPacket(message), afterMs: performance.now() - sentMs }));
  const sentTs = unixMsToNtp(Date.now());
  const request = encodeNtpHeader({
    leap: 0,
    version: 4,
    mode: 3,
    stratum: 0,
    poll: 0,
    precision: 0,
    rootDelayMs: 0,
    rootDispersionMs: 0,
    refId: Buffer.alloc(4),
    referenceTs: 0n,
    originTs: 0n,
    receiveTs: 0n,
    transmitTs: sentTs,
  });
  await new Promise<void>((resolve) => socket.send(request, Number(port), host, () => resolve()));
  await sleep(waitMs);
  socket.close();
  return { sentTs, replies };
}

async function forged(options: ForgedSntpOptions): Promise<{ server: ForgedSntpServer; address: string }> {
  const server = new ForgedSntpServer(options);
  servers.push(server);
  return { server, address: await server.start() };
}

describe('forged SNTP servers', () => {
  it('good: the request echoed as origin, the host time, LI 0, stratum 1', async () => {
    const { address } = await forged({ mode: 'good' });
    const { sentTs, replies } = await query(address, 100);
    const reply = replies[0]?.packet;
    expect(replies).toHaveLength(1);
    expect(reply?.originTs).toBe(sentTs);
    expect(Math.abs(ntpToUnixMs(reply?.transmitTs ?? 0n) - Date.now())).toBeLessThan(1000);
    expect([reply?.leap, reply?.stratum, reply?.mode]).toEqual([0, 1, 4]);
  });

  it('far-off: 100 years ahead, which the era window reads as about 36 years back', async () => {
    const { address } = await forged({ mode: 'far-off' });
    const reply = (await query(address, 100)).replies[0]?.packet;
    const offsetMs = ntpToUnixMs(reply?.transmitTs ?? 0n) - Date.now();
    expect(Math.abs(offsetMs - (HUNDRED_YEARS_MS - 2 ** 32 * 1000))).toBeLessThan(2000);
    expect(reply?.originTs).not.toBe(0n);
  });

  it('era-wrap: seconds field near 0, just past the 2036 rollover', async () => {
    const { address } = await forged({ mode: 'era-wrap' });
    const reply = (await query(address, 100)).replies[0]?.packet;
    expect(Number((reply?.transmitTs ?? 0n) >> 32n)).toBeLessThan(60);
    expect(new Date(ntpToUnixMs(reply?.transmitTs ?? 0n)).toISOString()).toMatch(/^2036-02-07T06:28:1\d/);
  });

  it('zero-transmit, wrong-origin, kiss-o-death, unsynchronised, t2-after-t3: each one defect', async () => {
    const answers = await Promise.all(
      (['zero-transmit', 'wrong-origin', 'kiss-o-death', 'unsynchronised', 't2-after-t3'] as const).map(async (mode) => {
        const { address } = await forged({ mode });
        const { sentTs, replies } = await query(address, 100);
        return { sentTs, reply: replies[0]?.packet };
      }),
    );
    const [zero, wrongOrigin, kiss, unsync, t2AfterT3] = answers;
    expect(zero?.reply?.transmitTs).toBe(0n);
    expect(zero?.reply?.originTs).toBe(zero?.sentTs);
    expect(wrongOrigin?.reply?.originTs).not.toBe(wrongOrigin?.sentTs);
    expect(wrongOrigin?.reply?.transmitTs).not.toBe(0n);
    expect(kiss?.reply && kissCode(kiss.reply)).toBe('RATE');
    expect(kiss?.reply?.stratum).toBe(0);
    expect([unsync?.reply?.leap, unsync?.reply?.stratum]).toEqual([3, 1]);
    const t2 = ntpToUnixMs(t2AfterT3?.reply?.receiveTs ?? 0n);
    const t3 = ntpToUnixMs(t2AfterT3?.reply?.transmitTs ?? 0n);
    expect(t2 - t3).toBeGreaterThan(4000);
  });

  it('silent never answers; slow answers after its delay; alsoGenuine adds a good reply', async () => {
    const [silent, slow, both] = await Promise.all([forged({ mode: 'silent' }), forged({ mode: 'slow', delayMs: 250 }), forged({ mode: 'zero-transmit', alsoGenuine: true })]);
    const [silentAnswer, slowAnswer, bothAnswer] = await Promise.all([query(silent.address, 400), query(slow.address, 400), query(both.address, 100)]);
    expect(silentAnswer.replies).toEqual([]);
    expect(silent.server.requests).toBe(1);
    expect(slowAnswer.replies).toHaveLength(1);
    expect(slowAnswer.replies[0]?.afterMs).toBeGreaterThanOrEqual(240);
    expect(bothAnswer.replies.map((reply) => reply.packet.transmitTs === 0n)).toEqual([true, false]);
  });
});
