import { mkdtempSync, readFileSync, realpathSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InfrastructureError, LinkClosedError } from '../core/errors.js';
import { skipWithoutSocat, startPtyPair, type PtyPair } from '../testing/socat.js';
import type { Link } from './link.js';
import { memoryLinkPair } from './memory.js';
import { openLink } from './open.js';
import { SerialLink } from './serial.js';
import { parseTcpAddress, TcpLink } from './tcp.js';
import { parseTranscript, TranscriptTap } from './transcript.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function nextData(link: Link): Promise<string> {
  return new Promise((resolve) => {
    const stop = link.onData((bytes) => {
      stop();
      resolve(bytes.toString('latin1'));
    });
  });
}

function closed(link: Link): Promise<{ error: LinkClosedError | undefined; atMs: number }> {
  return new Promise((resolve) => link.onClose((error) => resolve({ error, atMs: performance.now() })));
}

/**
 * Watches the timers created from now on; `holding()` counts those still able to keep the process
 * alive (not fired or cleared, and not unref'd). Node's own list of active resources mixes in the
 * test runner's timers, so the link's are tracked by where they were made.
 */
function trackTimers(): { holding(): number; restore(): void } {
  const made: NodeJS.Timeout[] = [];
  const spies = (['setTimeout', 'setInterval'] as const).map((name) => {
    const original = globalThis[name];
    return vi.spyOn(globalThis, name).mockImplementation(((...args: Parameters<typeof setTimeout>) => {
      const timer = (original as typeof setTimeout)(...args);
      made.push(timer);
      return timer;
    }) as typeof setTimeout);
  });
  return {
    // `_destroyed` is how Node marks a timer that fired (once) or was cleared.
    holding: () => made.filter((timer) => !(timer as unknown as { _destroyed: boolean })._destroyed && timer.hasRef()).length,
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

describe('memory link pair', () => {
  it('carries bytes both ways and closes both ends on unplug', async () => {
    const pair = memoryLinkPair('m');
    const received = nextData(pair.board);
    await pair.host.write(Buffer.from('ping'));
    expect(await received).toBe('ping');
    const hostClosed = closed(pair.host);
    pair.unplug();
    expect((await hostClosed).error?.message).toContain('mem://m');
    await expect(pair.host.write(Buffer.from('x'))).rejects.toBeInstanceOf(LinkClosedError);
  });
});

describe.skipIf(skipWithoutSocat)('serial link over a socat pseudo-terminal', () => {
  let pty: PtyPair;

  it('exchanges bytes both ways', async () => {
    pty = await startPtyPair();
    cleanups.push(() => pty.kill());
    const host = await SerialLink.open(pty.hostPath);
    const board = await SerialLink.open(pty.boardPath);
    cleanups.push(() => host.close(), () => board.close());
    const atBoard = nextData(board);
    await host.write(Buffer.from('AT\r'));
    expect(await atBoard).toBe('AT\r');
    const atHost = nextData(host);
    await board.write(Buffer.from('\r\nOK\r\n'));
    expect(await atHost).toBe('\r\nOK\r\n');
  });

  it('a write whose completion comes after its deadline timer (a starved process) leaves the link open', async () => {
    pty = await startPtyPair();
    cleanups.push(() => pty.kill());
    const host = await SerialLink.open(pty.hostPath, { writeDeadlineMs: 300 });
    const board = await SerialLink.open(pty.boardPath);
    cleanups.push(() => host.close(), () => board.close());
    const atBoard = nextData(board);
    const written = host.write(Buffer.from('AT\r'));
    // Held past the deadline just after the write starts, as a loaded host starves the process: the
    // deadline timer then runs before the poll phase hands over the write's completion.
    const endMs = performance.now() + 700;
    while (performance.now() < endMs) {
      // Busy on purpose: nothing else of this process runs meanwhile.
    }
    await written;
    expect(host.closed).toBe(false);
    expect(await atBoard).toBe('AT\r');
    await host.write(Buffer.from('AT\r'));
  });

  it('opens a port exclusively', async () => {
    pty = await startPtyPair();
    cleanups.push(() => pty.kill());
    const first = await SerialLink.open(pty.hostPath);
    cleanups.push(() => first.close());
    await expect(SerialLink.open(pty.hostPath)).rejects.toThrow(/cannot open serial port .*host/);
  });

  /** Unplugs with `unplug` and expects the link to close within a second, naming the port and `seen`. */
  async function expectUnplugNoticed(host: Link, unplug: () => Promise<void>, seen: RegExp): Promise<void> {
    const hostClosed = closed(host);
    const unpluggedAtMs = performance.now();
    await unplug();
    const { error, atMs } = await hostClosed;
    expect(atMs - unpluggedAtMs).toBeLessThan(1000);
    expect(error).toBeInstanceOf(LinkClosedError);
    expect(error?.message).toContain(host.address);
    expect(error?.message).toMatch(seen);
    // A write after the device vanished fails at once instead of never calling back.
    const writeAtMs = performance.now();
    await expect(host.write(Buffer.from('AT\r'))).rejects.toBeInstanceOf(LinkClosedError);
    expect(performance.now() - writeAtMs).toBeLessThan(1000);
  }

  it('closes within a second, naming the port, when socat is killed', async () => {
    pty = await startPtyPair();
    const host = await SerialLink.open(pty.hostPath);
    cleanups.push(() => host.close());
    await expectUnplugNoticed(host, () => pty.kill(), /unplugged|disconnected/);
  });

  it('closes within a second when socat is stopped with SIGTERM (it removes its links)', async () => {
    pty = await startPtyPair();
    const host = await SerialLink.open(pty.hostPath);
    cleanups.push(() => host.close());
    await expectUnplugNoticed(host, () => pty.kill('SIGTERM'), /unplugged|disconnected/);
  });

  it('rejects a write issued right after the unplug within a second, and closes', async () => {
    pty = await startPtyPair();
    const host = await SerialLink.open(pty.hostPath);
    cleanups.push(() => host.close());
    const hostClosed = closed(host);
    await pty.kill();
    // No waiting for the close: this write races the unplug being noticed.
    const writeAtMs = performance.now();
    const write = host.write(Buffer.from('AT+CCLK?\r'));
    await expect(write).rejects.toBeInstanceOf(LinkClosedError);
    await expect(write).rejects.toThrow(pty.hostPath);
    expect(performance.now() - writeAtMs).toBeLessThan(1000);
    expect((await hostClosed).error).toBeInstanceOf(LinkClosedError);
  });

  it('closes when its device node is removed though the device still answers', async () => {
    pty = await startPtyPair();
    cleanups.push(() => pty.kill());
    // A by-id style name for the pty; removing it is what udev does on unplug.
    const byId = join(mkdtempSync(join(tmpdir(), 'qhil-by-id-')), 'usb-Quectel_EC200U-if02-port0');
    symlinkSync(realpathSync(pty.hostPath), byId);
    const host = await SerialLink.open(byId);
    cleanups.push(() => host.close());
    await expectUnplugNoticed(host, async () => unlinkSync(byId), /device node is gone/);
  });

  it('closes when its path comes to name another device (re-enumerated)', async () => {
    pty = await startPtyPair();
    cleanups.push(() => pty.kill());
    const other = await startPtyPair();
    cleanups.push(() => other.kill());
    const byId = join(mkdtempSync(join(tmpdir(), 'qhil-by-id-')), 'usb-Quectel_EC200U-if02-port0');
    symlinkSync(realpathSync(pty.hostPath), byId);
    const host = await SerialLink.open(byId);
    cleanups.push(() => host.close());
    await expectUnplugNoticed(
      host,
      async () => {
        const next = `${byId}.new`;
        symlinkSync(realpathSync(other.hostPath), next);
        renameSync(next, byId);
      },
      /another device/,
    );
  });

  it('stays open while the device is there (the liveness check sees a live pty as live)', async () => {
    pty = await startPtyPair();
    cleanups.push(() => pty.kill());
    const host = await SerialLink.open(pty.hostPath, { livenessIntervalMs: 20 });
    cleanups.push(() => host.close());
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(host.closed).toBe(false);
  });

  it('leaves no timer holding the process once closed by an unplug', async () => {
    pty = await startPtyPair();
    const timers = trackTimers();
    cleanups.push(async () => timers.restore());
    const host = await SerialLink.open(pty.hostPath);
    cleanups.push(() => host.close());
    const hostClosed = closed(host);
    await host.write(Buffer.from('AT\r'));
    await pty.kill();
    await hostClosed;
    expect(timers.holding()).toBe(0);
  });

  it('leaves no timer holding the process once closed by us', async () => {
    pty = await startPtyPair();
    cleanups.push(() => pty.kill());
    const timers = trackTimers();
    cleanups.push(async () => timers.restore());
    const host = await SerialLink.open(pty.hostPath);
    await host.write(Buffer.from('AT\r'));
    await host.close();
    expect(timers.holding()).toBe(0);
  });

  it('reports a missing port as an infrastructure error naming it', async () => {
    await expect(openLink('/dev/ttyQHIL-none')).rejects.toThrow(InfrastructureError);
    await expect(openLink('/dev/ttyQHIL-none')).rejects.toThrow(/\/dev\/ttyQHIL-none/);
  });
});

describe('TCP link (raw serial over TCP, as ser2net serves it)', () => {
  async function server(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
    const sockets: Socket[] = [];
    const srv = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', (bytes) => socket.write(Buffer.concat([Buffer.from('echo:'), bytes])));
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const address = srv.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    cleanups.push(() => new Promise((resolve) => srv.close(resolve)));
    return { server: srv, port, sockets };
  }

  it('exchanges bytes and closes within a second when the server resets', async () => {
    const { port, sockets } = await server();
    const link = await TcpLink.open(`tcp://127.0.0.1:${port}`);
    cleanups.push(() => link.close());
    const reply = nextData(link);
    await link.write(Buffer.from('\x01raw'));
    expect(await reply).toBe('echo:\x01raw');
    const linkClosed = closed(link);
    const resetAt = performance.now();
    sockets[0]?.resetAndDestroy();
    const { error, atMs } = await linkClosed;
    expect(atMs - resetAt).toBeLessThan(1000);
    expect(error?.message).toContain(`tcp://127.0.0.1:${port}`);
  });

  it('leaves no timer holding the process once closed, by the far end or by us', async () => {
    const { port, sockets } = await server();
    const timers = trackTimers();
    cleanups.push(async () => timers.restore());
    const reset = await TcpLink.open(`tcp://127.0.0.1:${port}`);
    const ours = await TcpLink.open(`tcp://127.0.0.1:${port}`);
    await reset.write(Buffer.from('AT\r'));
    await ours.write(Buffer.from('AT\r'));
    const resetClosed = closed(reset);
    sockets[0]?.resetAndDestroy();
    await resetClosed;
    await ours.close();
    expect(timers.holding()).toBe(0);
  });

  it('fails to connect with an infrastructure error naming the address', async () => {
    const { server: srv, port } = await server();
    await new Promise((resolve) => srv.close(resolve));
    await expect(TcpLink.open(`tcp://127.0.0.1:${port}`)).rejects.toThrow(new RegExp(`tcp://127.0.0.1:${port}`));
  });

  it('parses addresses, IPv6 included', () => {
    expect(parseTcpAddress('tcp://[::1]:7001')).toEqual({ host: '::1', port: 7001 });
    expect(() => parseTcpAddress('tcp://host')).toThrow(/tcp:\/\/host:port/);
  });
});

describe('transcript tap', () => {
  it('records every byte both ways, including bytes nobody waited for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhil-transcript-'));
    const path = join(dir, 'board-repl.log');
    const pair = memoryLinkPair('t');
    const tap = new TranscriptTap(pair.host, path);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const received = nextData(pair.board);
    await tap.write(all);
    await received;
    await pair.board.write(Buffer.from('\r\n+QIURC: "pdpdeact",1\r\n'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await tap.close();
    const entries = parseTranscript(readFileSync(path, 'utf8'));
    expect(entries.map((e) => e.direction)).toEqual(['tx', 'rx']);
    expect(entries[0]?.bytes).toEqual(all);
    expect(entries[1]?.bytes.toString()).toBe('\r\n+QIURC: "pdpdeact",1\r\n');
    expect(Number.isNaN(Date.parse(entries[0]?.hostWallTime ?? ''))).toBe(false);
  });
});

describe('transcript tap under a byte flood', () => {
  it('keeps the file under its cap, says so once, counts what it dropped each way, and passes every byte on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhil-transcript-'));
    const path = join(dir, 'board-repl.log');
    const pair = memoryLinkPair('flood');
    const maxBytes = 2000;
    const tap = new TranscriptTap(pair.host, path, { maxBytes });
    let heardBytes = 0;
    tap.onData((bytes) => (heardBytes += bytes.length));
    const chunk = Buffer.alloc(100, 'x');
    for (let i = 0; i < 100; i += 1) await pair.board.write(chunk);
    for (let i = 0; i < 10; i += 1) await tap.write(Buffer.from('AT\r'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await tap.close();

    expect(heardBytes).toBe(100 * 100);
    const text = readFileSync(path, 'utf8');
    const markers = text.split('\n').filter((line) => / -- /.test(line));
    const dataBytes = text.split('\n').filter((line) => / (rx|tx) "/.test(line)).reduce((sum, line) => sum + line.length + 1, 0);
    expect(dataBytes).toBeLessThanOrEqual(maxBytes);
    expect(markers.filter((line) => line.includes('from now on bytes are counted, not kept'))).toHaveLength(1);
    const kept = parseTranscript(text);
    const keptRx = kept.filter((e) => e.direction === 'rx').reduce((sum, e) => sum + e.bytes.length, 0);
    const keptTx = kept.filter((e) => e.direction === 'tx').reduce((sum, e) => sum + e.bytes.length, 0);
    expect(keptRx).toBeGreaterThan(0);
    expect(tap.dropped).toEqual({ rx: 100 * 100 - keptRx, tx: 10 * 3 - keptTx });
    const summary = markers.find((line) => line.includes('dropped after the cap'));
    expect(summary).toContain(`rx ${100 * 100 - keptRx} bytes, tx ${10 * 3 - keptTx} bytes`);
    expect(markers.at(-1)).toMatch(/ -- closed$/);
  });

  it('writes the dropped counts when the far end closes the link', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhil-transcript-'));
    const path = join(dir, 'board-at.log');
    const pair = memoryLinkPair('flood-unplug');
    const tap = new TranscriptTap(pair.host, path, { maxBytes: 200 });
    for (let i = 0; i < 10; i += 1) await pair.board.write(Buffer.alloc(50, 'y'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(tap.dropped.rx).toBeGreaterThan(0);
    pair.unplug();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines.at(-2)).toMatch(/-- dropped after the cap: rx \d+ bytes, tx 0 bytes$/);
    expect(lines.at(-1)).toMatch(/-- closed: mem:\/\/flood-unplug: the far end closed the link$/);
  });

  it('keeps everything and writes no cap line below the default cap', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qhil-transcript-'));
    const path = join(dir, 'board-at.log');
    const pair = memoryLinkPair('calm');
    const tap = new TranscriptTap(pair.host, path);
    for (let i = 0; i < 100; i += 1) await pair.board.write(Buffer.alloc(1000, 'z'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await tap.close();
    const text = readFileSync(path, 'utf8');
    expect(parseTranscript(text).reduce((sum, e) => sum + e.bytes.length, 0)).toBe(100 * 1000);
    expect(text).not.toMatch(/cap/);
  });
});
