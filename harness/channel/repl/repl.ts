import { BoardError, WaitTimeoutError } from '../../core/errors.js';
import type { Link } from '../../link/link.js';
import { Receiver, type WaitLimits } from '../receiver.js';
import { parsePyLiteral, type PyValue } from './pyliteral.js';

/** A Python exception raised on the board: the board's code failed, so it is a BoardError (FAIL). */
export class PythonError extends BoardError {
  constructor(
    readonly port: string,
    /** Exception class, e.g. `OSError`. */
    readonly exceptionType: string,
    /** The exception's message, e.g. `Server connection failed!`. */
    readonly exceptionMessage: string,
    readonly traceback: string,
    readonly stdout: string,
  ) {
    super(`${port}: ${exceptionType}${exceptionMessage ? `: ${exceptionMessage}` : ''}\n${traceback.trimEnd()}`);
    this.name = 'PythonError';
  }
}

/** The board answers `REPL refuse`: REPL protection is on. Nothing the harness can do about it. */
export class ReplRefusedError extends BoardError {
  constructor(readonly port: string) {
    super(`${port}: the board answered "REPL refuse": QuecPython REPL protection is on; disable it to test over the REPL`);
    this.name = 'ReplRefusedError';
  }
}

export type ReplMode = 'raw-paste' | 'raw' | 'friendly';

export interface ReplChannelOptions {
  transcriptPath?: string;
  /** Limit on silence while the board should be answering a protocol step (prompts, OK). */
  handshakeInactivityMs?: number;
  /** Deadline for getting into raw or friendly mode. */
  enterDeadlineMs?: number;
  /** Deadline for the raw-paste answer before giving up on it (the webassembly VM never answers). */
  rawPasteAnswerMs?: number;
  /** Modes not to try, e.g. ['raw-paste'] to force plain raw mode. */
  avoid?: ReplMode[];
}

export interface ExecOptions {
  /** Overall deadline for the code to run and its output to come back. */
  timeoutMs?: number;
  /** Fail when the board says nothing for this long while running; default: the deadline. */
  inactivityMs?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  stdout: string;
  /** The traceback text; empty when the code raised nothing. */
  stderr: string;
  mode: ReplMode;
}

const RAW_PROMPT = /raw REPL; CTRL-B to exit\r?\n>/;
const FRIENDLY_PROMPT = /\r?\n>>> $/;
const REFUSE = 'REPL refuse';
const SOFT_REBOOT = 'soft reboot';
const CTRL_A = '\x01';
const CTRL_B = '\x02';
const CTRL_C = '\x03';
const CTRL_D = '\x04';

/**
 * MicroPython's REPL, spoken as mpremote speaks it: raw REPL with `\x04` separators so stdout and
 * the traceback come back apart, raw-paste when the board grants it, plain raw mode when not, and the
 * friendly `>>> ` REPL when raw mode is unavailable. Every wait has an inactivity limit and a deadline.
 */
export class ReplChannel {
  readonly receiver: Receiver;
  private modeInUse: ReplMode | undefined;
  private rawPasteRefused = false;
  private readonly options: Required<Omit<ReplChannelOptions, 'transcriptPath'>>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly link: Link,
    options: ReplChannelOptions = {},
  ) {
    this.receiver = new Receiver(link, options.transcriptPath);
    this.options = {
      handshakeInactivityMs: options.handshakeInactivityMs ?? 2000,
      enterDeadlineMs: options.enterDeadlineMs ?? 5000,
      rawPasteAnswerMs: options.rawPasteAnswerMs ?? 1000,
      avoid: options.avoid ?? [],
    };
    if (this.options.avoid.includes('raw-paste')) this.rawPasteRefused = true;
  }

  get port(): string {
    return this.link.address;
  }

  /** The mode the last exec used (undefined before the first). */
  get mode(): ReplMode | undefined {
    return this.modeInUse;
  }

  /** Runs code on the board. Resolves with its stdout; rejects with PythonError when it raised. */
  async exec(code: string, options: ExecOptions = {}): Promise<ExecResult> {
    const result = await this.execRaw(code, options);
    if (result.stderr.trim()) throw toPythonError(this.port, result);
    return result;
  }

  /** Like exec, but returns stdout and stderr apart without throwing on an exception. */
  execRaw(code: string, options: ExecOptions = {}): Promise<ExecResult> {
    const run = this.queue.then(() => this.execNow(code, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Evaluates one expression on the board and parses its repr into a JS value. */
  async eval(expression: string, options: ExecOptions = {}): Promise<PyValue> {
    const { stdout } = await this.exec(`print(repr(${expression}))`, options);
    return this.parseAnswer(stdout, expression);
  }

  /**
   * Parses what the board printed last (a line of its own): anything the firmware printed before it
   * is chatter. An answer that is not a Python value is the board's fault: garbled output, a changed API.
   */
  parseAnswer(stdout: string, what: string): PyValue {
    const lines = stdout.trimEnd().split('\n');
    const last = lines[lines.length - 1] ?? '';
    try {
      return parsePyLiteral(last);
    } catch (error) {
      throw new BoardError(`${this.port}: ${what} printed ${JSON.stringify(last.slice(0, 200))}, which is not a Python value: ${(error as Error).message}`);
    }
  }

  /** Leaves raw mode (Ctrl-B) so the board is back at its friendly prompt, as a person left it. */
  async release(): Promise<void> {
    if (this.link.closed) return;
    if (this.modeInUse && this.modeInUse !== 'friendly') await this.receiver.write(CTRL_B).catch(() => undefined);
    this.modeInUse = undefined;
  }

  async close(): Promise<void> {
    await this.release();
    await this.link.close();
  }

  private handshake(waitingFor: string, deadlineMs?: number, signal?: AbortSignal): WaitLimits {
    return {
      waitingFor,
      inactivityMs: this.options.handshakeInactivityMs,
      deadlineMs: deadlineMs ?? this.options.enterDeadlineMs,
      signal,
    };
  }

  private async execNow(code: string, options: ExecOptions): Promise<ExecResult> {
    const deadlineMs = options.timeoutMs ?? 30_000;
    const startedAt = performance.now();
    const left = (): number => Math.max(1, deadlineMs - (performance.now() - startedAt));
    // Ctrl-D on an empty buffer soft-reboots the board: never send empty code.
    const source = code.trim() ? code : 'pass';
    if (this.modeInUse === undefined) await this.enter(options.signal);
    try {
      if (this.modeInUse === 'friendly') return await this.execFriendly(source, left(), deadlineMs, options);
      if (this.modeInUse === 'raw' || this.modeInUse === 'raw-paste') {
        const sent = await this.sendRaw(source, options.signal);
        return await this.readRawOutput(sent, left(), deadlineMs, options);
      }
      throw new Error('unreachable: no REPL mode');
    } catch (error) {
      if (error instanceof WaitTimeoutError && !this.link.closed) {
        // Stop whatever is running so the next command finds a prompt, and re-enter next time.
        await this.receiver.write(`${CTRL_C}${CTRL_C}`).catch(() => undefined);
        this.modeInUse = undefined;
      }
      throw error;
    }
  }

  /** Interrupts whatever runs, skips boot noise, and gets a raw prompt, or the friendly one as a fallback. */
  private async enter(signal?: AbortSignal): Promise<void> {
    await this.receiver.write(`\r${CTRL_C}${CTRL_C}`);
    const noise = await this.receiver.drain(60, 1000);
    if (noise.includes(REFUSE)) throw new ReplRefusedError(this.port);
    await this.receiver.write(`\r${CTRL_A}`);
    try {
      await this.receiver.waitFor(RAW_PROMPT, this.handshake('raw REPL prompt', 2500, signal));
      this.modeInUse = 'raw';
      return;
    } catch (error) {
      if (!(error instanceof WaitTimeoutError)) throw error;
      if (this.receiver.tail.includes(REFUSE)) throw new ReplRefusedError(this.port);
    }
    // No raw mode: use the friendly REPL, as a person at QPYcom would.
    await this.receiver.write(`${CTRL_B}\r`);
    try {
      await this.receiver.waitFor(FRIENDLY_PROMPT, this.handshake('">>> " prompt (raw mode did not answer either)', undefined, signal));
    } catch (error) {
      if (this.receiver.tail.includes(REFUSE)) throw new ReplRefusedError(this.port);
      throw error;
    }
    await this.receiver.drain(30, 300);
    this.modeInUse = 'friendly';
  }

  /** Sends the code in raw-paste mode if granted, else plain raw; resolves to the mode used. */
  private async sendRaw(code: string, signal?: AbortSignal): Promise<ReplMode> {
    const bytes = Buffer.from(code, 'utf8');
    if (!this.rawPasteRefused) {
      await this.receiver.write('\x05A\x01');
      let answer: string | undefined;
      try {
        answer = (
          await this.receiver.waitFor((buffer) => (buffer.length >= 2 ? 2 : -1), {
            waitingFor: 'raw-paste answer',
            inactivityMs: this.options.rawPasteAnswerMs,
            deadlineMs: this.options.rawPasteAnswerMs,
            signal,
          })
        ).text;
      } catch (error) {
        if (!(error instanceof WaitTimeoutError)) throw error;
      }
      if (answer === 'R\x01') {
        await this.pasteWithFlowControl(bytes, signal);
        this.modeInUse = 'raw-paste';
        return 'raw-paste';
      }
      this.rawPasteRefused = true;
      if (answer === 'R\x00') {
        // Refused: the board stays at the raw prompt.
      } else if (answer === undefined) {
        // No answer at all (some event-driven REPLs spin on the request): interrupt and re-enter.
        await this.receiver.write(`\r${CTRL_C}${CTRL_C}`);
        await this.receiver.drain(60, 1000);
        await this.receiver.write(`\r${CTRL_A}`);
        await this.receiver.waitFor(RAW_PROMPT, this.handshake('raw REPL prompt after the raw-paste request', undefined, signal));
      } else {
        // Old firmware echoes the request as text: read on to its raw prompt.
        await this.receiver.waitFor(/>$/, this.handshake('raw prompt after an unknown raw-paste answer', undefined, signal));
      }
    }
    // Plain raw mode: at most 256 bytes every 10 ms, as pyboard.py does, so small UART buffers keep up.
    for (let offset = 0; offset < bytes.length; offset += 256) {
      await this.receiver.write(bytes.subarray(offset, offset + 256));
      if (offset + 256 < bytes.length) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.receiver.write(CTRL_D);
    const ok = await this.receiver.waitFor(/OK|raw REPL; CTRL-B to exit\r?\n>/, this.handshake('"OK" after the code', undefined, signal));
    if (ok.matched !== 'OK') throw new BoardError(`${this.port}: the board did not accept the code (no "OK"): ${JSON.stringify(ok.text.slice(-80))}`);
    this.modeInUse = 'raw';
    return 'raw';
  }

  private async pasteWithFlowControl(bytes: Buffer, signal?: AbortSignal): Promise<void> {
    const header = await this.receiver.waitFor((buffer) => (buffer.length >= 3 ? 3 : -1), this.handshake('raw-paste window size', undefined, signal));
    const windowSize = header.text.charCodeAt(0) | (header.text.charCodeAt(1) << 8);
    let credit = header.text[2] === '\x01' ? windowSize : 0;
    let offset = 0;
    while (offset < bytes.length) {
      // Take every flow-control byte that has arrived; block only when out of credit.
      while (credit === 0 || this.receiver.pending.length > 0) {
        const flow = await this.receiver.waitFor((buffer) => (buffer.length >= 1 ? 1 : -1), this.handshake('raw-paste flow control', undefined, signal));
        if (flow.text === '\x01') credit += windowSize;
        else if (flow.text === CTRL_D) {
          // The board aborted the paste (e.g. it found a syntax error early): end our side too.
          await this.receiver.write(CTRL_D);
          return;
        }
      }
      const chunk = bytes.subarray(offset, offset + Math.min(credit, bytes.length - offset));
      await this.receiver.write(chunk);
      offset += chunk.length;
      credit -= chunk.length;
    }
    await this.receiver.write(CTRL_D);
    // The board acknowledges the end of data with \x04 (skipping any late flow-control bytes).
    await this.receiver.waitFor(CTRL_D, this.handshake('raw-paste end acknowledgement', undefined, signal));
  }

  private async readRawOutput(mode: ReplMode, deadlineMs: number, wholeDeadlineMs: number, options: ExecOptions): Promise<ExecResult> {
    const limits = outputLimits('end of the output (\\x04)', deadlineMs, wholeDeadlineMs, options);
    const stdout = await this.receiver.waitFor(CTRL_D, limits);
    if (stdout.before.includes(SOFT_REBOOT) && stdout.before.includes('raw REPL')) {
      this.modeInUse = undefined;
      throw new BoardError(`${this.port}: the board soft-rebooted while running the code: ${JSON.stringify(stdout.before.slice(-120))}`);
    }
    const stderr = await this.receiver.waitFor(CTRL_D, { ...limits, waitingFor: 'end of the traceback (\\x04)' });
    await this.receiver.waitFor('>', { ...limits, waitingFor: 'raw prompt ">" after the output' });
    return { stdout: normaliseLineEnds(stdout.before), stderr: normaliseLineEnds(stderr.before), mode };
  }

  /** Friendly REPL: one line `exec('...')`, its echo, the output, the next `>>> ` prompt. */
  private async execFriendly(code: string, deadlineMs: number, wholeDeadlineMs: number, options: ExecOptions): Promise<ExecResult> {
    const line = `exec(${pythonStringLiteral(code)})`;
    this.receiver.discard();
    await this.receiver.write(`${line}\r`);
    const limits = outputLimits('">>> " prompt after the output', deadlineMs, wholeDeadlineMs, options);
    const received = await this.receiver.waitFor(FRIENDLY_PROMPT, limits);
    // The prompt match took the newline that ended the last output line (or the echo): put it back.
    let output = normaliseLineEnds(`${received.before}\n`);
    const echoEnd = output.indexOf(line);
    if (echoEnd >= 0) output = output.slice(echoEnd + line.length);
    output = output.replace(/^\n/, '');
    const tracebackAt = output.search(/^Traceback \(most recent call last\):/m);
    if (tracebackAt < 0) return { stdout: output, stderr: '', mode: 'friendly' };
    return { stdout: output.slice(0, tracebackAt), stderr: output.slice(tracebackAt), mode: 'friendly' };
  }
}

/**
 * Limits for the wait on a command's output: the time left of the exec's deadline, silence allowed up
 * to that unless the caller set an inactivity limit, and the exec's whole deadline named on a timeout.
 */
function outputLimits(waitingFor: string, deadlineMs: number, wholeDeadlineMs: number, options: ExecOptions): WaitLimits {
  return {
    waitingFor,
    inactivityMs: options.inactivityMs ?? deadlineMs,
    deadlineMs,
    reportedDeadlineMs: wholeDeadlineMs,
    signal: options.signal,
  };
}

function normaliseLineEnds(text: string): string {
  return text.replace(/\r\n/g, '\n');
}

/** A Python string literal for any text (ASCII-only, so no encoding surprises on the wire). */
export function pythonStringLiteral(text: string): string {
  let out = "'";
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code > 0x7e) out += code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}

function toPythonError(port: string, result: ExecResult): PythonError {
  const lines = result.stderr.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  const match = /^([A-Za-z_][\w.]*)(?::\s?(.*))?$/.exec(last.trim());
  return new PythonError(port, match?.[1] ?? 'Exception', match?.[2] ?? last.trim(), result.stderr, result.stdout);
}
