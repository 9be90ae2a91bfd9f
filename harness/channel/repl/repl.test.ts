import { afterEach, describe, expect, it } from 'vitest';
import { BoardError, LinkClosedError, WaitTimeoutError } from '../../core/errors.js';
import { memoryLinkPair } from '../../link/memory.js';
import { startPlainVm, type PlainVmPeer } from '../../testing/plain-vm.js';
import { ReceiveFloodError } from '../receiver.js';
import { PythonError, ReplChannel, ReplRebootedError, ReplRefusedError, pythonStringLiteral, rawFrameEnd } from './repl.js';

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

describe('ReplChannel text as the board sent it', () => {
  it('returns UTF-8 output of the plain VM, in raw and in friendly mode', async () => {
    peer = await startPlainVm();
    const raw = new ReplChannel(peer.host);
    expect((await raw.exec("print('é€中 😀')")).stdout).toBe('é€中 😀\n');
    const error = await raw.exec("raise ValueError('café 中')").catch((e: unknown) => e);
    expect((error as PythonError).exceptionMessage).toBe('café 中');
    expect(await raw.eval("'中文'")).toBe('中文');
    await peer.close();
    peer = await startPlainVm({ disableRawMode: true });
    const friendly = new ReplChannel(peer.host, { handshakeInactivityMs: 300 });
    expect((await friendly.exec("print('é€中 😀')")).stdout).toBe('é€中 😀\n');
    expect(friendly.mode).toBe('friendly');
  });

  it('keeps a \\x04 the code printed in stdout instead of splitting a fake traceback off (plain VM)', async () => {
    peer = await startPlainVm();
    const repl = new ReplChannel(peer.host);
    const result = await repl.execRaw("print('a\\x04b')\nprint('c\\x04\\x04d')");
    expect(result).toMatchObject({ stdout: 'a\x04b\nc\x04\x04d\n', stderr: '' });
    const error = await repl.exec("print('x\\x04y')\n1/0").catch((e: unknown) => e);
    expect((error as PythonError).stdout).toBe('x\x04y\n');
    expect((error as PythonError).exceptionType).toBe('ZeroDivisionError');
  });

  it('decodes a character split across reads and shows an invalid byte as \\xff', async () => {
    const emoji = Buffer.from('😀', 'utf8');
    const pair = rawBoard('split', [
      Buffer.from('OK'),
      Buffer.concat([Buffer.from('中'), emoji.subarray(0, 2)]),
      Buffer.concat([emoji.subarray(2), Buffer.from([0xff]), Buffer.from('\r\n')]),
      Buffer.from('\x04\x04>'),
    ]);
    const result = await new ReplChannel(pair.host).exec('print(x)');
    expect(result.stdout).toBe('中😀\\xff\n');
  });

  it('finds the raw frame from its end', () => {
    expect(rawFrameEnd('a\x04b\x04\x04>')).toBe(6);
    const withTraceback = 'a\x04b\x04Traceback (most recent call last):\r\n  x\r\nE: y\r\n\x04>rest';
    expect(rawFrameEnd(withTraceback)).toBe(withTraceback.indexOf('rest'));
    expect(rawFrameEnd('a\x04junk\x04>')).toBe(-1);
    expect(rawFrameEnd('a\x04b\x04')).toBe(-1);
  });
});

/**
 * A board that enters raw mode, refuses raw-paste and answers the code's Ctrl-D with `answer`, one
 * write per chunk. Records every byte the host wrote.
 */
function rawBoard(name: string, answer: Buffer[]): ReturnType<typeof memoryLinkPair> & { written: () => string } {
  const pair = memoryLinkPair(name);
  let written = '';
  pair.board.onData((bytes) => {
    const text = bytes.toString('latin1');
    written += text;
    if (text.includes('\x05A\x01')) void pair.board.write(Buffer.from('R\x00'));
    else if (text.includes('\x01')) void pair.board.write(Buffer.from('raw REPL; CTRL-B to exit\r\n>'));
    else if (text.endsWith('\x04')) void (async () => { for (const chunk of answer) await pair.board.write(chunk); })();
  });
  return { ...pair, written: () => written };
}

/** A board that answers nothing but noise, one byte every `everyMs`, for as long as it is connected. */
function tricklingBoard(name: string, everyMs: number, answerRawPaste = false): ReturnType<typeof memoryLinkPair> & { stop: () => void } {
  const pair = memoryLinkPair(name);
  const timer = setInterval(() => void pair.board.write(Buffer.from('.')).catch(() => undefined), everyMs);
  if (answerRawPaste) {
    pair.board.onData((bytes) => {
      const text = bytes.toString('latin1');
      if (text.includes('\x05A\x01')) return;
      if (text.includes('\x01')) void pair.board.write(Buffer.from('raw REPL; CTRL-B to exit\r\n>'));
    });
  }
  return { ...pair, stop: () => clearInterval(timer) };
}

describe('ReplChannel: every part of an exec within its own deadline', () => {
  it('ends the handshake with a board that trickles a byte every 100 ms at the exec deadline (exec --timeout 1s)', async () => {
    const board = tricklingBoard('trickle', 100);
    try {
      const repl = new ReplChannel(board.host);
      const startedAt = performance.now();
      const error = await repl.exec('print(1)', { timeoutMs: 1000 }).catch((e: unknown) => e);
      const elapsedMs = performance.now() - startedAt;
      expect(error).toBeInstanceOf(WaitTimeoutError);
      expect((error as WaitTimeoutError).which).toBe('deadline');
      expect((error as WaitTimeoutError).limitMs).toBe(1000);
      expect((error as WaitTimeoutError).bytesReceived).toBeGreaterThan(3);
      expect(elapsedMs).toBeGreaterThanOrEqual(990);
      expect(elapsedMs).toBeLessThan(1400);
    } finally {
      board.stop();
    }
  });

  it('ends a raw-paste negotiation that only gets noise at the exec deadline', async () => {
    const board = tricklingBoard('trickle-paste', 20, true);
    try {
      const repl = new ReplChannel(board.host);
      const startedAt = performance.now();
      const error = await repl.exec('print(1)', { timeoutMs: 500 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WaitTimeoutError);
      expect(performance.now() - startedAt).toBeLessThan(800);
    } finally {
      board.stop();
    }
  });

  it('fails an exec whose output floods the receive buffer as the board\'s fault, within its cap', async () => {
    const chunk = Buffer.alloc(32 * 1024, 'z');
    const pair = rawBoard('flood', [Buffer.from('OK'), ...Array.from({ length: 8 }, () => chunk)]);
    const repl = new ReplChannel(pair.host, { maxUnconsumedBytes: 64 * 1024 });
    const error = await repl.exec('flood()', { timeoutMs: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReceiveFloodError);
    expect(error).toBeInstanceOf(BoardError);
    expect((error as Error).message).toMatch(/flooded \d+ bytes without end of the output/);
    expect(repl.receiver.pending.length).toBeLessThanOrEqual(64 * 1024);
  });

  it('stops at once on abort, with the signal reason, and interrupts the board', async () => {
    const pair = rawBoard('abort', [Buffer.from('OKstarted\r\n')]);
    const repl = new ReplChannel(pair.host);
    const controller = new AbortController();
    const reason = new Error('run stopped');
    const pending = repl.exec('long_job()', { timeoutMs: 10_000, signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(reason), 100);
    const startedAt = performance.now();
    expect(await pending).toBe(reason);
    expect(performance.now() - startedAt).toBeLessThan(1000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pair.written().endsWith('\x03\x03')).toBe(true);
    await expect(repl.exec('print(1)', { signal: controller.signal })).rejects.toBe(reason);
  });
});

describe('pythonStringLiteral', () => {
  it('escapes quotes, backslashes, control and non-ASCII characters', () => {
    expect(pythonStringLiteral("a'b\\c\n\x04é")).toBe("'a\\'b\\\\c\\n\\x04\\u00e9'");
  });
});

describe('ReplChannel death strings', () => {
  it('REPL refuse ends any wait, also one past the handshake (the code\'s OK)', async () => {
    const pair = memoryLinkPair('refuse-late');
    pair.board.onData((bytes) => {
      const text = bytes.toString('latin1');
      if (text.includes('\x01') && !text.includes('\x05')) void pair.board.write(Buffer.from('raw REPL; CTRL-B to exit\r\n>'));
      else if (text.includes('\x05')) void pair.board.write(Buffer.from('R\x00'));
      else if (text.includes('\x04')) void pair.board.write(Buffer.from('REPL refuse\r\n'));
    });
    const repl = new ReplChannel(pair.host, { handshakeInactivityMs: 5000 });
    const startedAt = performance.now();
    const error = await repl.exec('print(1)', { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplRefusedError);
    expect(performance.now() - startedAt).toBeLessThan(4000);
  });

  it('a soft-reboot banner while the code runs ends the exec with ReplRebootedError', async () => {
    const pair = memoryLinkPair('soft-reboot');
    pair.board.onData((bytes) => {
      const text = bytes.toString('latin1');
      if (text.includes('\x01') && !text.includes('\x05')) void pair.board.write(Buffer.from('raw REPL; CTRL-B to exit\r\n>'));
      else if (text.includes('\x05')) void pair.board.write(Buffer.from('R\x00'));
      else if (text.includes('\x04')) void pair.board.write(Buffer.from('OKstarted\r\nMPY: soft reboot\r\n'));
    });
    const repl = new ReplChannel(pair.host);
    const error = await repl.exec('job()', { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplRebootedError);
    expect((error as Error).message).toMatch(/^mem:\/\/soft-reboot: the board soft-rebooted while running the code \("MPY: soft reboot"\)/);
  });
});
