/**
 * Test peers: fake boards that misbehave on purpose, for the fault-matrix suite. Each sits on a socat
 * PTY pair (harness/testing/socat.ts; its address is the path the harness opens) or on a loopback TCP
 * server (`tcp://127.0.0.1:<port>`, one client at a time, a new one replacing the old as ser2net's
 * kickolduser does). Each speaks both protocols on its one port, as far as it speaks at all: AT
 * command lines (`AT...\r`, echoed) and a minimal MicroPython raw REPL (Ctrl-A, code, Ctrl-D; raw-paste
 * refused), so one peer serves as `--at` or as `--repl`; start two for a two-port board.
 *
 * Behaviours:
 * - `silent`: reads everything, never answers;
 * - `trickle`: once spoken to, one byte every `trickleIntervalMs` (100 ms), forever, never a prompt,
 *   final code or `\x04`;
 * - `flood`: once spoken to, writes as fast as the port takes it, until stopped;
 * - `hostile`: answers, but its identity (ATI, AT+GMR, AT+QGMR, AT+CGSN, the REPL's uname, firmware
 *   and IMEI) and its output carry terminal escapes, OSC 52 clipboard writes, title changes, NULs,
 *   `</failure>`, CDATA ends and Markdown fences (HOSTILE_LINE, HOSTILE_OUTPUT);
 * - `ctrl-d`: a raw-REPL peer whose stdout contains `\x04` (CTRL_D_STDOUT);
 * - `utf8`: identity in UTF-8 ('é€中'), and output 'é€中' plus an invalid byte (UTF8_STDOUT);
 * - `vanish-after`: a well-behaved board whose end goes `vanishAfterMs` after the host first spoke
 *   (PTY: socat killed, the path gone; TCP: the server closed, connections cut and then refused).
 *
 * Stopping leaves no process and no listener. No Python runs here: the REPL knows the harness's
 * identify snippet and `utime.localtime()`; any other code gets the behaviour's output.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Link } from '../link/link.js';
import { SerialLink } from '../link/serial.js';
import { startPtyPair, type PtyPair } from './socat.js';

export const HOSTILE_BEHAVIOURS = ['silent', 'trickle', 'flood', 'hostile', 'ctrl-d', 'utf8', 'vanish-after'] as const;
export type HostileBehaviour = (typeof HOSTILE_BEHAVIOURS)[number];

export interface HostileBoardOptions {
  behaviour: HostileBehaviour;
  /** Default 'pty'. */
  transport?: 'pty' | 'tcp';
  /** `trickle`: pause between bytes, ms. Default 100. */
  trickleIntervalMs?: number;
  /** `vanish-after`: ms from the first byte the host sends to the board's end going. Default 500. */
  vanishAfterMs?: number;
}

/**
 * One line (no CR or LF) of everything a board must never get onto a terminal or into a report raw:
 * clear screen and colour, a title change, an OSC 52 clipboard write (base64 of `rm -rf ~`), NULs, a
 * JUnit `</failure>`, a CDATA end, HTML, a Markdown fence.
 */
export const HOSTILE_LINE =
  '\x1b[2J\x1b[31mEC200U\x1b]0;qhil pwned\x07\x1b]52;c;cm0gLXJmIH4K\x07\x00\x00</failure></testcase>]]><script>x</script>```';
/** A raw-REPL stdout of several lines, with a fence opened and never closed. */
export const HOSTILE_OUTPUT = `${HOSTILE_LINE}\r\n\`\`\`\r\n# heading\r\n\x1b[8m${HOSTILE_LINE}\r\n`;
/** What the `ctrl-d` peer prints: a `\x04` inside stdout, which read from the front would split off a fake traceback. */
export const CTRL_D_STDOUT = 'before\x04Traceback (most recent call last):\r\nafter\r\n';
/** 'é€中' in UTF-8 and then a byte that is not UTF-8. */
export const UTF8_STDOUT = Buffer.concat([Buffer.from('é€中', 'utf8'), Buffer.from([0xff]), Buffer.from('\r\n')]);
/** What the `trickle` peer repeats: no line end, prompt, final code or `\x04` in it. */
export const TRICKLE_TEXT = 'slow board ';
const FLOOD_CHUNK = Buffer.alloc(16 * 1024, 'flood ');

const RAW_PROMPT = 'raw REPL; CTRL-B to exit\r\n>';
const FRIENDLY_PROMPT = '>>> ';
/** A command line longer than this is cut: the peer's own buffers stay bounded whatever the host sends. */
const MAX_LINE_BYTES = 4096;
const MAX_CODE_BYTES = 256 * 1024;

interface Identity {
  manufacturer: string;
  model: string;
  revision: string;
  firmware: string;
  imei: string;
  uname: string[];
}

const POLITE_IDENTITY: Identity = {
  manufacturer: 'Quectel',
  model: 'EC200U-EU',
  revision: 'EC200UEUAAR03A01M08',
  firmware: 'EC200UEUAAR03A01M08_OCPU_QPY',
  imei: '864430010009999',
  uname: ['sysname=EC200U-EU', 'nodename=EC200U', 'release=1.12.0', 'version=v1.12 on 2026-01-01', 'machine=EC200U with QUECTEL', 'qpyver=V0001'],
};

const HOSTILE_IDENTITY: Identity = {
  manufacturer: `Quectel${HOSTILE_LINE}`,
  model: `EC200U-EU${HOSTILE_LINE}`,
  revision: `R03${HOSTILE_LINE}`,
  firmware: `FW${HOSTILE_LINE}`,
  imei: `86443001${HOSTILE_LINE}`,
  uname: POLITE_IDENTITY.uname.map((field) => `${field}${HOSTILE_LINE}`),
};

const UTF8_IDENTITY: Identity = {
  ...POLITE_IDENTITY,
  model: 'EC200U-EU é€中',
  firmware: 'EC200U_é€中',
  uname: POLITE_IDENTITY.uname.map((field) => (field.startsWith('machine=') ? 'machine=EC200U é€中 with QUECTEL' : field)),
};

/** What a talking peer says: its identity, what unknown AT commands get, and the stdout of unknown code. */
interface Personality {
  identity: Identity;
  /** An information line before OK for an AT command the peer does not know; undefined: plain OK. */
  unknownAtLine?: Buffer;
  stdout: Buffer;
}

const PERSONALITIES: Partial<Record<HostileBehaviour, Personality>> = {
  hostile: { identity: HOSTILE_IDENTITY, unknownAtLine: Buffer.from(HOSTILE_LINE, 'latin1'), stdout: Buffer.from(HOSTILE_OUTPUT, 'latin1') },
  'ctrl-d': { identity: POLITE_IDENTITY, stdout: Buffer.from(CTRL_D_STDOUT, 'latin1') },
  utf8: { identity: UTF8_IDENTITY, unknownAtLine: UTF8_STDOUT.subarray(0, -2), stdout: UTF8_STDOUT },
  'vanish-after': { identity: POLITE_IDENTITY, stdout: Buffer.alloc(0) },
};

export class HostileBoard {
  readonly behaviour: HostileBehaviour;
  private readonly transport: 'pty' | 'tcp';
  private pair: PtyPair | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private session: Session | undefined;
  private address: string | undefined;
  private vanishTimer: NodeJS.Timeout | undefined;
  private sent = 0;
  private receivedCount = 0;
  private gone = false;
  private stopped = false;

  constructor(private readonly options: HostileBoardOptions) {
    if (!(HOSTILE_BEHAVIOURS as readonly string[]).includes(options.behaviour)) throw new Error(`no hostile behaviour "${options.behaviour}"`);
    this.behaviour = options.behaviour;
    this.transport = options.transport ?? 'pty';
  }

  /** Bytes the board has written. */
  get bytesSent(): number {
    return this.sent;
  }

  /** Bytes the host has sent to the board. */
  get bytesReceived(): number {
    return this.receivedCount;
  }

  /** True once `vanish-after` took the board's end away. */
  get vanished(): boolean {
    return this.gone;
  }

  /** Starts the peer; resolves to the address the harness opens (a PTY path or `tcp://127.0.0.1:<port>`). */
  async start(): Promise<string> {
    if (this.address) return this.address;
    if (this.transport === 'pty') {
      this.pair = await startPtyPair();
      // A flooding board waits for the host to read, however long (as a module's UART does): no write deadline.
      const link = await SerialLink.open(this.pair.boardPath, { writeDeadlineMs: 24 * 3_600_000 });
      this.session = this.newSession(link);
      this.address = this.pair.hostPath;
      return this.address;
    }
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      if (this.gone || this.stopped) {
        socket.destroy();
        return;
      }
      void this.session?.close();
      const session = this.newSession(socketEnd(socket));
      this.session = session;
      // The host hung up: a trickle or flood for it ends too.
      socket.on('close', () => session.stop());
    });
    this.server = server;
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const bound = server.address();
        resolve(typeof bound === 'object' && bound ? bound.port : 0);
      });
    });
    this.address = `tcp://127.0.0.1:${port}`;
    return this.address;
  }

  /** Stops the peer: socat killed (PTY) or the server and its connections closed (TCP). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.vanish();
  }

  private newSession(link: BoardEnd): Session {
    return new Session(link, this.behaviour, this.options, {
      sent: (bytes) => (this.sent += bytes),
      received: (bytes) => {
        if (this.receivedCount === 0 && bytes > 0) this.firstContact();
        this.receivedCount += bytes;
      },
    });
  }

  private firstContact(): void {
    if (this.behaviour !== 'vanish-after') return;
    this.vanishTimer = setTimeout(() => {
      this.gone = true;
      void this.vanish();
    }, this.options.vanishAfterMs ?? 500);
  }

  private async vanish(): Promise<void> {
    clearTimeout(this.vanishTimer);
    const session = this.session;
    this.session = undefined;
    session?.stop();
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    const pair = this.pair;
    this.pair = undefined;
    // socat first (SIGKILL, as an unplug): the host sees its port vanish, not an orderly close.
    await pair?.kill();
    await session?.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Starts a hostile board; see HostileBoard. */
export async function startHostileBoard(options: HostileBoardOptions): Promise<{ board: HostileBoard; address: string }> {
  const board = new HostileBoard(options);
  const address = await board.start();
  return { board, address };
}

/** What a session needs of its end of the port: a Link (the PTY) or a bare socket (TCP). */
type BoardEnd = Pick<Link, 'write' | 'onData' | 'close' | 'closed'>;

/**
 * A TCP connection as a BoardEnd. Not a TcpLink: the board's side must not give up on a host that
 * stops reading (a flood waits for the kernel to take each chunk, however long), nor probe liveness.
 */
function socketEnd(socket: Socket): BoardEnd {
  return {
    get closed() {
      return socket.destroyed;
    },
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        if (socket.destroyed) return reject(new Error('connection closed'));
        const onClose = (): void => reject(new Error('connection closed'));
        socket.once('close', onClose);
        socket.write(bytes, (error) => {
          socket.off('close', onClose);
          if (error) reject(error);
          else resolve();
        });
      }),
    onData: (listener) => {
      socket.on('data', listener);
      return () => socket.off('data', listener);
    },
    close: async () => {
      socket.destroy();
    },
  };
}

interface Counters {
  sent(bytes: number): void;
  received(bytes: number): void;
}

/** One host connection (TCP) or the PTY's whole life: the REPL mode and the half-typed line. */
class Session {
  private mode: 'friendly' | 'raw' = 'friendly';
  private line = '';
  private code: number[] = [];
  /** Progress through the raw-paste request `\x05A\x01`. */
  private pasteRequest = 0;
  private spoken = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();
  private readonly personality: Personality | undefined;

  constructor(
    private readonly link: BoardEnd,
    private readonly behaviour: HostileBehaviour,
    private readonly options: HostileBoardOptions,
    private readonly counters: Counters,
  ) {
    this.personality = PERSONALITIES[behaviour];
    link.onData((bytes) => this.onData(bytes));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async close(): Promise<void> {
    this.stop();
    await this.link.close().catch(() => undefined);
  }

  private onData(bytes: Buffer): void {
    if (this.stopped) return;
    this.counters.received(bytes.length);
    const firstTime = !this.spoken;
    this.spoken = true;
    switch (this.behaviour) {
      case 'silent':
        return;
      case 'trickle':
        if (firstTime) this.trickle(0);
        return;
      case 'flood':
        if (firstTime) void this.flood();
        return;
      default:
        for (const byte of bytes) this.take(byte);
    }
  }

  private trickle(index: number): void {
    if (this.stopped) return;
    const byte = TRICKLE_TEXT.charCodeAt(index % TRICKLE_TEXT.length);
    this.write(Buffer.from([byte]));
    this.timer = setTimeout(() => this.trickle(index + 1), this.options.trickleIntervalMs ?? 100);
  }

  private async flood(): Promise<void> {
    // Each write waits for the port to take the last: as fast as it goes, never more in memory here.
    while (!this.stopped && !this.link.closed) {
      try {
        await this.link.write(FLOOD_CHUNK);
        this.counters.sent(FLOOD_CHUNK.length);
      } catch {
        return;
      }
    }
  }

  private write(bytes: Buffer | string): void {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    if (buffer.length === 0 || this.stopped) return;
    this.writes = this.writes
      .then(() => this.link.write(buffer))
      .then(() => this.counters.sent(buffer.length))
      .catch(() => undefined);
  }

  /** One byte from the host, for the talking behaviours. */
  private take(byte: number): void {
    if (this.mode === 'raw') return this.takeRaw(byte);
    switch (byte) {
      case 0x01:
        this.mode = 'raw';
        this.code = [];
        this.line = '';
        this.write(RAW_PROMPT);
        return;
      case 0x03:
        this.line = '';
        this.write(`\r\n${FRIENDLY_PROMPT}`);
        return;
      case 0x02:
        this.line = '';
        this.write(`\r\nMicroPython v1.12 on 2026-01-01; ${this.identity.model} with QUECTEL\r\n${FRIENDLY_PROMPT}`);
        return;
      case 0x0a:
        return;
      case 0x0d: {
        const line = this.line.trim();
        this.line = '';
        if (/^AT/i.test(line)) this.answerAt(line);
        else if (line) this.answerFriendly(line);
        return;
      }
      default:
        if (this.line.length < MAX_LINE_BYTES) this.line += String.fromCharCode(byte);
    }
  }

  private takeRaw(byte: number): void {
    // The raw-paste request: refused, so the harness falls back to plain raw mode.
    const request = [0x05, 0x41, 0x01];
    if (byte === request[this.pasteRequest]) {
      this.pasteRequest += 1;
      if (this.pasteRequest === request.length) {
        this.pasteRequest = 0;
        this.write('R\x00');
      }
      return;
    }
    if (this.pasteRequest > 0) {
      this.code.push(...request.slice(0, this.pasteRequest));
      this.pasteRequest = 0;
    }
    switch (byte) {
      case 0x01:
        this.code = [];
        this.write(RAW_PROMPT);
        return;
      case 0x02:
        this.mode = 'friendly';
        this.write(`\r\n${FRIENDLY_PROMPT}`);
        return;
      case 0x03:
        this.code = [];
        return;
      case 0x04: {
        const code = Buffer.from(this.code).toString('utf8');
        this.code = [];
        this.write(Buffer.concat([Buffer.from('OK'), this.run(code), Buffer.from('\x04\x04>')]));
        return;
      }
      default:
        if (this.code.length < MAX_CODE_BYTES) this.code.push(byte);
    }
  }

  private answerFriendly(line: string): void {
    this.write(Buffer.concat([Buffer.from(`${line}\r\n`, 'latin1'), this.run(line), Buffer.from(FRIENDLY_PROMPT)]));
  }

  private get identity(): Identity {
    return this.personality?.identity ?? POLITE_IDENTITY;
  }

  /** The stdout of `code`: the harness's identify snippet and localtime answered, anything else the personality's output. */
  private run(code: string): Buffer {
    const identity = this.identity;
    if (/_qhil_identify\(\)/.test(code) && !/\bdef\b/.test(code)) {
      const uname = `(${identity.uname.map(pythonRepr).join(', ')})`;
      return Buffer.from(`{'uname': ${uname}, 'firmware': ${pythonRepr(identity.firmware)}, 'imei': ${pythonRepr(identity.imei)}}\r\n`, 'utf8');
    }
    if (/^\s*(def |import |from )/.test(code) && !/print\(/.test(code)) return Buffer.alloc(0);
    if (/utime\.localtime\(\)/.test(code)) return Buffer.from(`${localtimeTuple(new Date())}\r\n`);
    return this.personality?.stdout ?? Buffer.alloc(0);
  }

  private answerAt(command: string): void {
    const identity = this.identity;
    const upper = command.toUpperCase();
    const info = (...lines: string[]): string => lines.map((line) => `\r\n${line}`).join('') + '\r\n\r\nOK\r\n';
    let answer: string | Buffer;
    if (upper === 'AT' || /^ATE[01]?$/.test(upper) || /^AT\+(QICSGP|QIACT|QIDEACT|CMEE|QIDNSCFG)=/.test(upper)) answer = '\r\nOK\r\n';
    else if (upper === 'ATI') answer = info(identity.manufacturer, identity.model, `Revision: ${identity.revision}`);
    else if (upper === 'AT+GMR' || upper === 'AT+QGMR' || upper === 'AT+CGMR') answer = info(identity.firmware);
    else if (upper === 'AT+CGSN' || upper === 'AT+GSN') answer = info(identity.imei);
    else if (upper === 'AT+CGMI') answer = info(identity.manufacturer);
    else if (upper === 'AT+CGMM') answer = info(identity.model);
    else if (upper === 'AT+CPIN?') answer = info('+CPIN: READY');
    else if (upper === 'AT+CSQ') answer = info('+CSQ: 20,99');
    else if (upper === 'AT+CEREG?' || upper === 'AT+CREG?') answer = info(`${upper.slice(2, -1)}: 0,1`);
    else if (upper === 'AT+QIACT?') answer = info('+QIACT: 1,1,1,"10.0.0.2"');
    else if (upper === 'AT+CCLK?') answer = info(`+CCLK: "${cclk(new Date())}"`);
    else {
      const line = this.personality?.unknownAtLine;
      answer = line === undefined ? '\r\nOK\r\n' : Buffer.concat([Buffer.from('\r\n'), line, Buffer.from('\r\n\r\nOK\r\n')]);
    }
    // Echo on, as a module after power-on: the command line comes back first (as it came, byte for byte).
    this.write(Buffer.concat([Buffer.from(`${command}\r`, 'latin1'), typeof answer === 'string' ? Buffer.from(answer, 'utf8') : answer]));
  }
}

/** A Python repr of a str, as MicroPython prints it: quotes, backslash and control bytes escaped, the rest as is (UTF-8). */
export function pythonRepr(text: string): string {
  let body = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === "'" || char === '\\') body += `\\${char}`;
    else if (char === '\n') body += '\\n';
    else if (char === '\r') body += '\\r';
    else if (char === '\t') body += '\\t';
    else if (code < 0x20 || code === 0x7f) body += `\\x${code.toString(16).padStart(2, '0')}`;
    else body += char;
  }
  return `'${body}'`;
}

/** `utime.localtime()` of a UTC instant: (year, month, mday, hour, minute, second, weekday 0=Monday, yearday). */
function localtimeTuple(date: Date): string {
  const yearday = Math.floor((Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()) - Date.UTC(date.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
  const fields = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), (date.getUTCDay() + 6) % 7, yearday];
  return `(${fields.join(', ')})`;
}

/** AT+CCLK's `yy/MM/dd,hh:mm:ss+zz` of a UTC instant, zone 0. */
function cclk(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(date.getUTCFullYear() % 100)}/${two(date.getUTCMonth() + 1)}/${two(date.getUTCDate())},${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}+00`;
}
