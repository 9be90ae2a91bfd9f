import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModemModel } from '../sim/modem.js';
import { parseBoardProfile } from '../sim/profile.js';
import { createAtPort } from '../sim/at/port.js';
import { ExitCode, type CliIo } from './command.js';
import { execAt } from './exec-at.js';

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    interactive: false,
    stdout: (text: string) => {
      io.out += text;
    },
    stderr: (text: string) => {
      io.err += text;
    },
  };
  return io;
}

describe('qhil exec --at', () => {
  let server: Server;
  let modem: ModemModel;
  let address: string;
  const sockets = new Set<Socket>();

  beforeEach(async () => {
    modem = new ModemModel(
      parseBoardProfile({
        model: 'EC200U-EU',
        product: 'EC200U',
        firmware: 'EC200UEUAAR03A01M08_OCPU_QPY',
        revision: 'EC200UEUAAR03A01M08',
        quecpython: { version: 'v1.12', buildDate: 'x', release: '1.12.0', qpyver: 'V0001' },
        imei: '864430010001234',
      }),
    );
    // The sim's AT interpreter behind a raw TCP serial server, as ser2net would present a board.
    server = createServer((socket) => {
      sockets.add(socket);
      const port = createAtPort(modem, (bytes) => socket.write(bytes), {
        ntpQueryUtcMs: () => Promise.reject(new Error('no NTP in this test')),
      });
      socket.on('data', (bytes) => port.receive(bytes));
      socket.on('close', () => port.dispose());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const info = server.address();
    address = `tcp://127.0.0.1:${typeof info === 'object' && info ? info.port : 0}`;
  });

  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('prints the intermediate lines of a command on stdout', async () => {
    const io = capture();
    expect(await execAt(address, 'ATI', io, {})).toBe(ExitCode.Ok);
    expect(io.out).toBe('Quectel\nEC200U\nRevision: EC200UEUAAR03A01M08\n');
    expect(io.err).toBe('');
  });

  it('prints +CME ERROR with its meaning on stderr and exits 1', async () => {
    modem.sim = 'absent';
    const io = capture();
    expect(await execAt(address, 'AT+CPIN?', io, {})).toBe(ExitCode.TestFailed);
    expect(io.err).toContain('AT+CPIN?: +CME ERROR: 10 (SIM not inserted)');
  });

  it('exits 1 on ERROR and 2 on something that is not an AT command', async () => {
    const io = capture();
    expect(await execAt(address, 'AT+NOSUCH', io, {})).toBe(ExitCode.TestFailed);
    expect(io.err).toContain('AT+NOSUCH: ERROR');
    expect(await execAt(address, 'print(1)', capture(), {})).toBe(ExitCode.BadInput);
  });

  it('exits 3 when the port cannot be opened', async () => {
    const io = capture();
    expect(await execAt('/dev/qhil-no-such-port', 'AT', io, {})).toBe(ExitCode.Infrastructure);
    expect(io.err).toContain('/dev/qhil-no-such-port');
  });
});

/** A board that answers every AT command with `lines` and OK, over a raw TCP serial server on loopback. */
async function hostileAtBoard(lines: string[]): Promise<{ address: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let pending = '';
    socket.on('data', (bytes) => {
      pending += bytes.toString('latin1');
      while (pending.includes('\r')) {
        const end = pending.indexOf('\r');
        const command = pending.slice(0, end).trim();
        pending = pending.slice(end + 1);
        if (command === '') continue;
        socket.write(Buffer.from(`${command}\r\r\n${lines.map((line) => `${line}\r\n`).join('')}\r\nOK\r\n`, 'utf8'));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const info = server.address();
  return {
    address: `tcp://127.0.0.1:${typeof info === 'object' && info ? info.port : 0}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('qhil exec --at, against a hostile board', () => {
  const HOSTILE = ['\x1b]52;c;SGVsbG8=\x07', '\x1b]0;pwned\x07', '\x1b[2Jcleared', 'nul\x00here', 'txt\u202egnp.exe'];

  it('shows control characters the board sent as visible escapes, on stdout', async () => {
    const board = await hostileAtBoard(HOSTILE);
    try {
      const io = capture();
      expect(await execAt(board.address, 'ATI', io, { timeoutMs: 5000 })).toBe(ExitCode.Ok);
      // (The AT channel itself drops some controls from a line; whatever it keeps arrives escaped.)
      expect(io.out).toContain('nul\\x00here\n');
      expect(io.out).toContain('txt\\u202egnp.exe\n');
      expect(io.out).toContain('cleared\n');
      expect(io.out + io.err).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/);
    } finally {
      await board.close();
    }
  });

  it('passes the answer through unchanged with raw', async () => {
    const board = await hostileAtBoard(HOSTILE);
    try {
      const io = capture();
      expect(await execAt(board.address, 'ATI', io, { timeoutMs: 5000, raw: true })).toBe(ExitCode.Ok);
      // What the AT channel passes on (it shows junk bytes itself), exactly: the override is not escaped.
      expect(io.out).toContain('txt\u202egnp.exe\n');
    } finally {
      await board.close();
    }
  });
});
