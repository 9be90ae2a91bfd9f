import { describe, expect, it } from 'vitest';
import { BoardError, WaitTimeoutError } from '../core/errors.js';
import { memoryLinkPair } from '../link/memory.js';
import { ReceiveFloodError, Receiver } from './receiver.js';
import { boardText } from './text.js';

const limits = (waitingFor: string, deadlineMs = 1000) => ({ waitingFor, inactivityMs: deadlineMs, deadlineMs });

describe('Receiver', () => {
  it('matches UTF-8 text whose bytes arrive split across reads', async () => {
    const pair = memoryLinkPair('split');
    const rx = new Receiver(pair.host);
    const bytes = Buffer.from('café 😀 ok', 'utf8');
    const waiting = rx.waitFor('😀 ok', limits('the emoji'));
    for (const piece of [bytes.subarray(0, 4), bytes.subarray(4, 7), bytes.subarray(7, 9), bytes.subarray(9)]) await pair.board.write(piece);
    const received = await waiting;
    expect(boardText(received.text)).toBe('café 😀 ok');
    expect(boardText(received.before)).toBe('café ');
  });

  it('ends a wait on a flood with a BoardError saying how much arrived and was dropped, holding no more than its cap', async () => {
    const pair = memoryLinkPair('flood');
    const rx = new Receiver(pair.host, { maxUnconsumedBytes: 64 * 1024 });
    const waiting = rx.waitFor('>>> ', limits('">>> " prompt', 10_000)).catch((e: unknown) => e);
    const chunk = Buffer.alloc(16 * 1024, 'x');
    for (let i = 0; i < 8; i++) await pair.board.write(chunk);
    const error = await waiting;
    expect(error).toBeInstanceOf(ReceiveFloodError);
    expect(error).toBeInstanceOf(BoardError);
    const flood = error as ReceiveFloodError;
    expect(flood.message).toMatch(/^mem:\/\/flood: flooded \d+ bytes without ">>> " prompt \(\d+ dropped unread beyond the 65536-byte receive buffer\)/);
    expect(flood.bytesReceived).toBeGreaterThan(64 * 1024);
    expect(flood.bytesDropped).toBe(flood.bytesReceived - 64 * 1024);
    expect(rx.pending.length).toBeLessThanOrEqual(64 * 1024);
  });

  it('keeps no more than its cap while nobody waits, and still finds a later match', async () => {
    const pair = memoryLinkPair('idle-flood');
    const rx = new Receiver(pair.host, { maxUnconsumedBytes: 1024 });
    await pair.board.write(Buffer.alloc(10_000, 'y'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(rx.pending.length).toBe(1024);
    const waiting = rx.waitFor('OK', limits('OK'));
    await pair.board.write(Buffer.from('OK'));
    expect((await waiting).matched).toBe('OK');
  });

  it('says how many bytes arrived during a wait that timed out', async () => {
    const pair = memoryLinkPair('count');
    const rx = new Receiver(pair.host);
    await pair.board.write(Buffer.from('before the wait'));
    await new Promise((resolve) => setImmediate(resolve));
    const silent = await rx.waitFor('OK', limits('OK', 50)).catch((e: unknown) => e);
    expect((silent as WaitTimeoutError).bytesReceived).toBe(0);
    const waiting = rx.waitFor('OK', limits('OK', 100)).catch((e: unknown) => e);
    await pair.board.write(Buffer.from('chatter'));
    const chatty = await waiting;
    expect(chatty).toBeInstanceOf(WaitTimeoutError);
    expect((chatty as WaitTimeoutError).bytesReceived).toBe(7);
  });

  it('rejects an aborted wait with the signal reason, at once', async () => {
    const pair = memoryLinkPair('abort');
    const rx = new Receiver(pair.host);
    const controller = new AbortController();
    const reason = new Error('stopped by the runner');
    const waiting = rx.waitFor('OK', { ...limits('OK', 10_000), signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(reason), 20);
    const startedAt = performance.now();
    expect(await waiting).toBe(reason);
    expect(performance.now() - startedAt).toBeLessThan(1000);
    await expect(rx.waitFor('OK', { ...limits('OK'), signal: controller.signal })).rejects.toBe(reason);
  });

  it('ends a wait at once on a death string', async () => {
    const pair = memoryLinkPair('death');
    const rx = new Receiver(pair.host);
    const deaths = [{ marker: 'REPL refuse', error: () => new BoardError('refused') }];
    const waiting = rx.waitFor('>', { ...limits('prompt', 10_000), deaths }).catch((e: unknown) => e);
    await pair.board.write(Buffer.from('REPL ref'));
    await pair.board.write(Buffer.from('use\r\n'));
    expect((await waiting) as Error).toHaveProperty('message', 'refused');
  });

  it("ends every wait on the receiver's standing death strings, before the wait's own and before a match", async () => {
    const pair = memoryLinkPair('standing-death');
    const rx = new Receiver(pair.host, { deaths: [{ marker: 'REPL refuse', error: () => new BoardError('standing') }] });
    const own = [{ marker: 'REPL', error: () => new BoardError('own') }];
    const first = rx.waitFor('OK', limits('OK', 10_000)).catch((e: unknown) => e);
    await pair.board.write(Buffer.from('OK? REPL refuse\r\n'));
    expect(await first).toHaveProperty('message', 'standing');
    // Still in the buffer: a later wait, with deaths of its own, dies at once on the standing rule.
    await expect(rx.waitFor('OK', { ...limits('OK', 10_000), deaths: own })).rejects.toThrow('standing');
    rx.discard();
    expect((await Promise.all([rx.waitFor('OK', limits('OK')), pair.board.write(Buffer.from('OK'))]))[0].matched).toBe('OK');
  });
});

describe('WaitTimeoutError', () => {
  it('escapes control bytes of the tail in its message, C1 included', async () => {
    const pair = memoryLinkPair('hostile');
    const rx = new Receiver(pair.host);
    const waiting = rx.waitFor('OK', limits('OK', 100)).catch((e: unknown) => e);
    await pair.board.write(Buffer.from('\x1b]52;c;AAAA\x07 \u009b2J', 'utf8'));
    const message = ((await waiting) as Error).message;
    expect(message).toContain('\\u001b]52;c;AAAA\\u0007 \\u009b2J');
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});
