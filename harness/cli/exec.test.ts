import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, type CliIo } from './command.js';
import { execRepl } from './exec-repl.js';
import { main } from './main.js';

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    interactive: false,
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
  };
  return io;
}

/**
 * A MicroPython raw REPL reduced to its framing, on loopback: Ctrl-A gives the raw prompt, raw-paste
 * is refused, and the code (up to Ctrl-D) is answered with `OK` stdout `\x04` traceback `\x04>`.
 */
function fakeRawRepl(answer: { stdout: string; traceback: string }, sockets: Set<Socket>): Server {
  return createServer((socket: Socket) => {
    sockets.add(socket);
    let pending = '';
    socket.on('data', (bytes) => {
      pending += bytes.toString('latin1');
      for (;;) {
        if (pending.endsWith('\x05A\x01')) {
          pending = '';
          socket.write('R\x00');
        } else if (pending.includes('\x01')) {
          pending = pending.slice(pending.lastIndexOf('\x01') + 1);
          socket.write('raw REPL; CTRL-B to exit\r\n>');
        } else if (pending.includes('\x04')) {
          pending = pending.slice(pending.indexOf('\x04') + 1);
          socket.write(Buffer.from(`OK${answer.stdout}\x04${answer.traceback}\x04>`, 'utf8'));
        } else {
          return;
        }
      }
    });
  });
}

const HOSTILE_STDOUT = 'clip\x1b]52;c;SGVsbG8=\x07 title\x1b]0;pwned\x07 clear\x1b[2J nul\x00 rtl\u202e\r\nline 2\tend\r\n';
const HOSTILE_TRACEBACK = 'Traceback (most recent call last):\r\n  File "<stdin>", line 1\r\nOSError: \x1b[31mred\x1b[0m\r\n';

describe('qhil exec --repl, against a hostile board', () => {
  let server: Server;
  let address: string;
  let answer: { stdout: string; traceback: string };
  const sockets = new Set<Socket>();

  beforeEach(async () => {
    answer = { stdout: HOSTILE_STDOUT, traceback: '' };
    server = fakeRawRepl({
      get stdout() {
        return answer.stdout;
      },
      get traceback() {
        return answer.traceback;
      },
    }, sockets);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const info = server.address();
    address = `tcp://127.0.0.1:${typeof info === 'object' && info ? info.port : 0}`;
  });

  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise((resolve) => server.close(resolve));
  });

  it('shows ESC, OSC, NUL and bidi overrides from the board as visible escapes, keeping lines and tabs', async () => {
    const io = capture();
    expect(await execRepl(address, 'print(1)', io, { timeoutMs: 5000 })).toBe(ExitCode.Ok);
    expect(io.out).toContain('clip\\x1b]52;c;SGVsbG8=\\x07 title\\x1b]0;pwned\\x07 clear\\x1b[2J nul\\x00 rtl\\u202e');
    expect(io.out).toContain('line 2\tend');
    expect(io.out).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202e]/);
  });

  it('escapes a traceback on stderr too, and exits 1', async () => {
    answer = { stdout: 'partial\x1b[2J\r\n', traceback: HOSTILE_TRACEBACK };
    const io = capture();
    expect(await execRepl(address, 'raise OSError', io, { timeoutMs: 5000 })).toBe(ExitCode.TestFailed);
    expect(io.err).toContain('OSError: \\x1b[31mred\\x1b[0m');
    expect(io.out + io.err).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/);
  });

  it('passes the output through unchanged with raw', async () => {
    const io = capture();
    expect(await execRepl(address, 'print(1)', io, { timeoutMs: 5000, raw: true })).toBe(ExitCode.Ok);
    expect(io.out).toContain('clip\x1b]52;c;SGVsbG8=\x07 title\x1b]0;pwned\x07 clear\x1b[2J nul\x00 rtl\u202e');
  });

  it('takes --raw on the command line; escapes without it', async () => {
    const escaped = capture();
    expect(await main(['node', 'qhil', 'exec', '--repl', address, '--timeout', '5s', 'print(1)'], escaped)).toBe(ExitCode.Ok);
    expect(escaped.out).toContain('clip\\x1b]52');
    const raw = capture();
    expect(await main(['node', 'qhil', 'exec', '--raw', '--repl', address, '--timeout', '5s', 'print(1)'], raw)).toBe(ExitCode.Ok);
    expect(raw.out).toContain('clip\x1b]52');
  });
});
