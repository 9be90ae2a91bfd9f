import { afterEach, describe, expect, it } from 'vitest';
import { BoardError, LinkClosedError, WaitTimeoutError } from '../../core/errors.js';
import { memoryLinkPair } from '../../link/memory.js';
import { startPlainVm, type PlainVmPeer } from '../../testing/plain-vm.js';
import { PythonError, ReplChannel, ReplRefusedError, pythonStringLiteral } from './repl.js';

let peer: PlainVmPeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

describe('ReplChannel against the plain MicroPython VM', () => {
  it('runs code in raw mode and returns stdout', async () => {
    peer = await startPlainVm();
    const repl = new ReplChannel(peer.host);
    const result = await repl.exec('print(1 + 1)\nprint("two lines")');
    expect(result.stdout).toBe('2\ntwo lines\n');
    expect(result.stderr).toBe('');
    expect(repl.mode).toBe('raw');
  });

  it('raises a Python exception as PythonError with its traceback', async () => {
    peer = await startPlainVm();
    const repl = new ReplChannel(peer.host);
    const error = await repl.exec('print("before")\n1/0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonError);
    expect(error).toBeInstanceOf(BoardError);
    const python = error as PythonError;
    expect(python.exceptionType).toBe('ZeroDivisionError');
    expect(python.exceptionMessage).toBe('divide by zero');
    expect(python.traceback).toContain('Traceback (most recent call last):');
    expect(python.stdout).toBe('before\n');
    // The channel is still usable after an exception.
    expect((await repl.exec('print(3)')).stdout).toBe('3\n');
  });

  it('evaluates expressions into JS values', async () => {
    peer = await startPlainVm();
    const repl = new ReplChannel(peer.host);
    expect(await repl.eval("(2020, 10, 28, 3, 15, 11, 2, 302)")).toEqual([2020, 10, 28, 3, 15, 11, 2, 302]);
    expect(await repl.eval("{'k': [1, 'a\\nb', None]}")).toEqual(new Map([['k', [1, 'a\nb', null]]]));
  });

  it('sends code longer than one 256-byte raw chunk intact', async () => {
    peer = await startPlainVm();
    const repl = new ReplChannel(peer.host);
    const text = 'x'.repeat(1500);
    const result = await repl.exec(`s = ${pythonStringLiteral(text)}\nprint(len(s), s == 'x' * 1500)`);
    expect(result.stdout).toBe('1500 True\n');
  });

  it('gives up on raw-paste when the board never answers and still runs the code', async () => {
    peer = await startPlainVm({ rawPasteAnswer: '' });
    const repl = new ReplChannel(peer.host, { rawPasteAnswerMs: 200 });
    expect((await repl.exec('print("ok")')).stdout).toBe('ok\n');
    expect(repl.mode).toBe('raw');
  });

  it('falls back to the friendly REPL when raw mode is unavailable', async () => {
    peer = await startPlainVm({ disableRawMode: true });
    const repl = new ReplChannel(peer.host, { handshakeInactivityMs: 500 });
    const result = await repl.exec("for i in range(3):\n    print('line', i)");
    expect(result.stdout).toBe('line 0\nline 1\nline 2\n');
    expect(repl.mode).toBe('friendly');
    const error = await repl.exec("raise ValueError('bad value')").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonError);
    expect((error as PythonError).exceptionMessage).toBe('bad value');
  });

});

/** A board that enters raw mode, accepts code with OK, prints `output` and then says nothing more. */
function silentAfterOutput(name: string, output: string): ReturnType<typeof memoryLinkPair> {
  const pair = memoryLinkPair(name);
  pair.board.onData((bytes) => {
    const text = bytes.toString('latin1');
    if (text.includes('\x05A\x01')) void pair.board.write(Buffer.from('R\x00'));
    else if (text.includes('\x01')) void pair.board.write(Buffer.from('raw REPL; CTRL-B to exit\r\n>'));
    else if (text.endsWith('\x04')) void pair.board.write(Buffer.from(`OK${output}`));
  });
  return pair;
}

describe('ReplChannel deadlines and vanishing ports', () => {
  it('ends a wait at its deadline, says which limit fired and shows what arrived', async () => {
    const pair = silentAfterOutput('slow', 'started\r\n');
    const repl = new ReplChannel(pair.host);
    const error = await repl.exec('long_job()', { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    const timeout = error as WaitTimeoutError;
    expect(timeout.which).toBe('deadline');
    expect(timeout.tail).toContain('started');
    expect(timeout.message).toContain('mem://slow');
  });

  it('says when the inactivity limit fired rather than the deadline', async () => {
    const pair = silentAfterOutput('quiet', 'partial');
    const repl = new ReplChannel(pair.host);
    const error = await repl.exec('job()', { timeoutMs: 5000, inactivityMs: 200 }).catch((e: unknown) => e);
    expect((error as WaitTimeoutError).which).toBe('inactivity');
    expect((error as Error).message).toMatch(/inactivity timeout of 200ms/);
  });

  it('fails pending work at once with the port name when the far end vanishes', async () => {
    const pair = silentAfterOutput('unplugged', '');
    const repl = new ReplChannel(pair.host);
    const pending = repl.exec('job()', { timeoutMs: 10_000 });
    setTimeout(() => pair.unplug(), 100);
    const startedAt = performance.now();
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LinkClosedError);
    expect((error as Error).message).toContain('mem://unplugged');
    expect(performance.now() - startedAt).toBeLessThan(1000);
  });
});

describe('ReplChannel against scripted boards', () => {
  it('reports REPL protection clearly', async () => {
    const pair = memoryLinkPair('protected');
    pair.board.onData(() => void pair.board.write(Buffer.from('REPL refuse\r\n')));
    const repl = new ReplChannel(pair.host, { handshakeInactivityMs: 300 });
    const error = await repl.exec('print(1)').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplRefusedError);
    expect((error as Error).message).toMatch(/REPL protection/);
  });

  it('skips boot noise and \\n line endings before the raw prompt', async () => {
    const pair = memoryLinkPair('noisy');
    let raw = false;
    pair.board.onData((bytes) => {
      const text = bytes.toString('latin1');
      if (text.includes('\x03')) void pair.board.write(Buffer.from('\x00\xffboot: rf ok\n[I] sim ready\nQuecPython v1.12\n>>> '));
      if (text.includes('\x01')) {
        raw = true;
        void pair.board.write(Buffer.from('raw REPL; CTRL-B to exit\n>'));
      }
      if (text.includes('\x05A\x01')) void pair.board.write(Buffer.from('R\x00'));
      if (raw && text.endsWith('\x04')) void pair.board.write(Buffer.from('OK(2024, 1, 2, 3, 4, 5, 1, 2)\n\x04\x04>'));
    });
    const repl = new ReplChannel(pair.host);
    expect(await repl.eval('utime.localtime()')).toEqual([2024, 1, 2, 3, 4, 5, 1, 2]);
  });

  it('uses raw-paste with flow control when the board grants it', async () => {
    const pair = memoryLinkPair('paste');
    let received = '';
    let pasting = false;
    pair.board.onData((bytes) => {
      const text = bytes.toString('latin1');
      if (text.includes('\x01') && !pasting && !text.includes('\x05')) void pair.board.write(Buffer.from('raw REPL; CTRL-B to exit\r\n>'));
      if (text === '\x05A\x01') {
        pasting = true;
        // Window of 8 bytes, initial credit granted.
        void pair.board.write(Buffer.from('R\x01\x08\x00\x01', 'latin1'));
        return;
      }
      if (!pasting) return;
      for (const ch of text) {
        if (ch === '\x04') {
          pasting = false;
          void pair.board.write(Buffer.from(`\x04${received.length}\n\x04\x04>`));
          return;
        }
        received += ch;
        if (received.length % 8 === 0) void pair.board.write(Buffer.from('\x01'));
      }
    });
    const repl = new ReplChannel(pair.host);
    const code = 'print("flow control works")';
    const result = await repl.exec(code);
    expect(received).toBe(code);
    expect(result.stdout).toBe(`${code.length}\n`);
    expect(repl.mode).toBe('raw-paste');
  });
});

describe('pythonStringLiteral', () => {
  it('escapes quotes, backslashes, control and non-ASCII characters', () => {
    expect(pythonStringLiteral("a'b\\c\n\x04é")).toBe("'a\\'b\\\\c\\n\\x04\\u00e9'");
  });
});
