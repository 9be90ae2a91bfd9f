import { BoardError, WaitTimeoutError } from '../../core/errors.js';
import { sleep } from '../../core/sleep.js';
import type { Link } from '../../link/link.js';
import { Receiver, type Death, type WaitLimits } from '../receiver.js';
import { boardText, quoteBoardText } from '../text.js';
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

/**
 * The board soft-rebooted (`MPY: soft reboot`) while it ran the code: the code's output and its end
 * will never come. The board's (FAIL): a crash, a watchdog, or code that reset the board.
 */
export class ReplRebootedError extends BoardError {
  constructor(
    readonly port: string,
    /** The last bytes before and including the banner, decoded. */
    readonly tail: string,
  ) {
    super(`${port}: the board soft-rebooted while running the code ("MPY: soft reboot"): ${quoteBoardText(tail)}`);
    this.name = 'ReplRebootedError';
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
  /** Deadline for getting into raw or friendly mode (never more than what is left of the exec's). */
  enterDeadlineMs?: number;
  /** Deadline for the raw-paste answer before giving up on it (the webassembly VM never answers). */
  rawPasteAnswerMs?: number;
  /** Modes not to try, e.g. ['raw-paste'] to force plain raw mode. */
  avoid?: ReplMode[];
  /** Cap on unconsumed received bytes (default: the receiver's 1 MiB); a flood beyond fails the exec. */
  maxUnconsumedBytes?: number;
}

export interface ExecOptions {
  /** Overall deadline for everything the exec does: entering the REPL, sending the code, its output. */
  timeoutMs?: number;
  /** Fail when the board says nothing for this long while running; default: the deadline. */
  inactivityMs?: number;
  /** Aborting ends the exec at once (rejecting with the signal's reason) and interrupts the board. */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** What the code printed, decoded as UTF-8 (invalid bytes shown as `\xNN`, see channel/text.ts). */
  stdout: string;
  /** The traceback text, decoded likewise; empty when the code raised nothing. */
  stderr: string;
  mode: ReplMode;
}

const RAW_PROMPT = /raw REPL; CTRL-B to exit\r?\n>/;
const FRIENDLY_PROMPT = /\r?\n>>> $/;
const REFUSE = 'REPL refuse';
/**
 * MicroPython's soft-reboot banner at a line start: once the code was sent, it ends the exec at once.
 * (A board also prints it at Ctrl-D on an empty raw buffer, which the channel never sends.)
 */
const SOFT_REBOOT_BANNER = /(?:^|\n)MPY: soft reboot\r?\n/;
const CTRL_A = '\x01';
const CTRL_B = '\x02';
const CTRL_C = '\x03';
const CTRL_D = '\x04';
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

/**
 * MicroPython's REPL, spoken as mpremote speaks it: raw REPL with `\x04` separators so stdout and
 * the traceback come back apart, raw-paste when the board grants it, plain raw mode when not, and the
 * friendly `>>> ` REPL when raw mode is unavailable. Every wait, the handshake's too, ends by the
 * exec's own deadline; output is UTF-8 text as the board sent it.
 */
export class ReplChannel {
  readonly receiver: Receiver;
  private modeInUse: ReplMode | undefined;
  private rawPasteRefused = false;
  private readonly options: Required<Omit<ReplChannelOptions, 'transcriptPath' | 'maxUnconsumedBytes'>>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly link: Link,
    options: ReplChannelOptions = {},
  ) {
    // `REPL refuse` (REPL protection) ends any wait at once, whatever the exchange is at: one standing rule.
    const refusal: Death = { marker: REFUSE, error: () => new ReplRefusedError(this.port) };
    this.receiver = new Receiver(link, { transcriptPath: options.transcriptPath, maxUnconsumedBytes: options.maxUnconsumedBytes, deaths: [refusal] });
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
    // The deadline runs from the call, so time spent queued behind another exec counts.
    const budget = new ExecBudget(options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS, options.signal);
    const run = this.queue.then(() => this.execNow(code, budget, options));
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
      throw new BoardError(`${this.port}: garbled reply: ${what} printed ${quoteBoardText(last)}, which is not a Python value: ${(error as Error).message}`);
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

  private async execNow(code: string, budget: ExecBudget, options: ExecOptions): Promise<ExecResult> {
    budget.signal?.throwIfAborted();
    // Ctrl-D on an empty buffer soft-reboots the board: never send empty code.
    const source = code.trim() ? code : 'pass';
    try {
      if (this.modeInUse === undefined) await this.enter(budget);
      if (this.modeInUse === 'friendly') return await this.execFriendly(source, budget, options);
      const sent = await this.sendRaw(source, budget);
      return await this.readRawOutput(sent, budget, options);
    } catch (error) {
      // Whatever broke the exchange (deadline, abort, flood, a reboot), the board's REPL state is
      // unknown: stop what runs so the next command finds a prompt, and re-enter next time.
      this.modeInUse = undefined;
      if (!this.link.closed && !(error instanceof ReplRefusedError)) await this.receiver.write(`${CTRL_C}${CTRL_C}`).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Interrupts whatever runs and asks for raw mode; a board whose REPL has no raw mode stays silent
   * after its `>>> `, so the friendly REPL is the fall-back once the handshake's inactivity limit passes.
   * Boot noise before the prompt is skipped; `REPL refuse` ends it at once.
   */
  private async enter(budget: ExecBudget): Promise<void> {
    const enterBudget = budget.within(this.options.enterDeadlineMs);
    try {
      await this.enterRaw(enterBudget, 'raw REPL prompt');
      this.modeInUse = 'raw';
      return;
    } catch (error) {
      if (!(error instanceof WaitTimeoutError) || budget.expired()) throw error;
    }
    // No raw mode: use the friendly REPL, as a person at QPYcom would.
    this.receiver.discard();
    await this.receiver.write(`${CTRL_B}\r`);
    await this.receiver.waitFor(
      FRIENDLY_PROMPT,
      // Bounded like the raw attempt: a board that trickles bytes is never quiet enough for the inactivity limit.
      budget.within(this.options.enterDeadlineMs).handshake('">>> " prompt (raw mode did not answer either)', this.options.handshakeInactivityMs),
    );
    this.modeInUse = 'friendly';
  }

  /** Ctrl-C twice (stop what runs), then Ctrl-A; resolves at the raw prompt. */
  private async enterRaw(budget: ExecBudget, waitingFor: string): Promise<void> {
    this.receiver.discard();
    await this.receiver.write(`\r${CTRL_C}${CTRL_C}`);
    await this.receiver.write(`\r${CTRL_A}`);
    await this.receiver.waitFor(RAW_PROMPT, budget.handshake(waitingFor, this.options.handshakeInactivityMs));
  }

  /** Death strings once the code is on its way: a soft reboot means its output will never end. */
  private rebooted(): Death[] {
    return [{ marker: SOFT_REBOOT_BANNER, error: (buffer) => new ReplRebootedError(this.port, boardText(buffer.slice(-120))) }];
  }

  /** Sends the code in raw-paste mode if granted, else plain raw; resolves to the mode used. */
  private async sendRaw(code: string, budget: ExecBudget): Promise<ReplMode> {
    const bytes = Buffer.from(code, 'utf8');
    const inactivityMs = this.options.handshakeInactivityMs;
    // At the raw prompt nothing more is due: anything buffered is stale (a late print of a thread).
    this.receiver.discard();
    if (!this.rawPasteRefused) {
      await this.receiver.write('\x05A\x01');
      let answer: string | undefined;
      try {
        const limits = budget.within(this.options.rawPasteAnswerMs).handshake('raw-paste answer', this.options.rawPasteAnswerMs);
        answer = (await this.receiver.waitFor((buffer) => (buffer.length >= 2 ? 2 : -1), limits)).text;
      } catch (error) {
        if (!(error instanceof WaitTimeoutError) || budget.expired()) throw error;
      }
      if (answer === 'R\x01') {
        await this.pasteWithFlowControl(bytes, budget);
        this.modeInUse = 'raw-paste';
        return 'raw-paste';
      }
      this.rawPasteRefused = true;
      if (answer === 'R\x00') {
        // Refused: the board stays at the raw prompt.
      } else if (answer === undefined) {
        // No answer at all (some event-driven REPLs spin on the request): interrupt and re-enter.
        await this.enterRaw(budget, 'raw REPL prompt after the raw-paste request');
      } else {
        // Old firmware echoes the request as text: read on to its raw prompt.
        await this.receiver.waitFor(/>$/, budget.handshake('raw prompt after an unknown raw-paste answer', inactivityMs));
      }
    }
    // Plain raw mode: at most 256 bytes every 10 ms, as pyboard.py does, so small UART buffers keep up.
    for (let offset = 0; offset < bytes.length; offset += 256) {
      await this.receiver.write(bytes.subarray(offset, offset + 256));
      if (offset + 256 < bytes.length) {
        await sleep(10, budget.signal);
        budget.signal?.throwIfAborted();
      }
    }
    await this.receiver.write(CTRL_D);
    const ok = await this.receiver.waitFor(/OK|raw REPL; CTRL-B to exit\r?\n>/, budget.handshake('"OK" after the code', inactivityMs, this.rebooted()));
    if (ok.matched !== 'OK') throw new BoardError(`${this.port}: the board did not accept the code (no "OK"): ${quoteBoardText(boardText(ok.text.slice(-80)))}`);
    this.modeInUse = 'raw';
    return 'raw';
  }

  private async pasteWithFlowControl(bytes: Buffer, budget: ExecBudget): Promise<void> {
    const inactivityMs = this.options.handshakeInactivityMs;
    const header = await this.receiver.waitFor((buffer) => (buffer.length >= 3 ? 3 : -1), budget.handshake('raw-paste window size', inactivityMs));
    const windowSize = header.text.charCodeAt(0) | (header.text.charCodeAt(1) << 8);
    let credit = header.text[2] === '\x01' ? windowSize : 0;
    let offset = 0;
    while (offset < bytes.length) {
      // Take every flow-control byte that has arrived; block only when out of credit.
      while (credit === 0 || this.receiver.pending.length > 0) {
        const flow = await this.receiver.waitFor((buffer) => (buffer.length >= 1 ? 1 : -1), budget.handshake('raw-paste flow control', inactivityMs));
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
    await this.receiver.waitFor(CTRL_D, budget.handshake('raw-paste end acknowledgement', inactivityMs, this.rebooted()));
  }

  /**
   * The output frame, read from its end: stdout `\x04` traceback `\x04>`. A `\x04` in what the code
   * printed stays stdout (see rawFrameEnd).
   */
  private async readRawOutput(mode: ReplMode, budget: ExecBudget, options: ExecOptions): Promise<ExecResult> {
    const frame = await this.receiver.waitFor(rawFrameEnd, outputLimits('end of the output ("\\x04" traceback "\\x04>")', budget, options, this.rebooted()));
    const stderrStart = frame.text.lastIndexOf(CTRL_D, frame.text.length - 3);
    return {
      stdout: normaliseLineEnds(boardText(frame.text.slice(0, stderrStart))),
      stderr: normaliseLineEnds(boardText(frame.text.slice(stderrStart + 1, -2))),
      mode,
    };
  }

  /** Friendly REPL: one line `exec('...')`, its echo, the output, the next `>>> ` prompt. */
  private async execFriendly(code: string, budget: ExecBudget, options: ExecOptions): Promise<ExecResult> {
    const line = `exec(${pythonStringLiteral(code)})`;
    this.receiver.discard();
    await this.receiver.write(`${line}\r`);
    // The output starts after the echo of the line; prompts before it (late ones of the handshake) are not the end.
    const afterEcho = (buffer: string): number => {
      const echoAt = buffer.indexOf(line);
      if (echoAt < 0) return -1;
      return FRIENDLY_PROMPT.test(buffer.slice(echoAt + line.length)) ? buffer.length : -1;
    };
    const received = await this.receiver.waitFor(afterEcho, outputLimits('echo of the line and the ">>> " prompt after the output', budget, options, this.rebooted()));
    const bytes = received.text;
    const echoEnd = bytes.indexOf(line) + line.length;
    const promptAt = bytes.search(/\r?\n>>> $/);
    let output = normaliseLineEnds(boardText(`${bytes.slice(echoEnd, promptAt)}\n`));
    output = output.replace(/^\n/, '');
    const tracebackAt = output.search(/^Traceback \(most recent call last\):/m);
    if (tracebackAt < 0) return { stdout: output, stderr: '', mode: 'friendly' };
    return { stdout: output.slice(0, tracebackAt), stderr: output.slice(tracebackAt), mode: 'friendly' };
  }
}

/**
 * One exec's deadline on the host monotonic clock (performance.now()), shared by every wait and sleep
 * of the exec, the handshake's included, so no part of it can outlast what the caller gave.
 */
class ExecBudget {
  private readonly endsAtMonoMs: number;

  constructor(
    /** The caller's whole limit, named in a timeout that it ended. */
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
    endsAtMonoMs?: number,
  ) {
    this.endsAtMonoMs = endsAtMonoMs ?? performance.now() + timeoutMs;
  }

  leftMs(): number {
    return Math.max(1, this.endsAtMonoMs - performance.now());
  }

  expired(): boolean {
    return this.endsAtMonoMs - performance.now() <= 0;
  }

  /** A part of the exec with a limit of its own (`limitMs`), never past the exec's end. */
  within(limitMs: number): ExecBudget {
    const partEndsAtMonoMs = Math.min(this.endsAtMonoMs, performance.now() + limitMs);
    return partEndsAtMonoMs < this.endsAtMonoMs ? new ExecBudget(limitMs, this.signal, partEndsAtMonoMs) : this;
  }

  /** Limits for one protocol wait (a prompt, OK): silence allowed up to `inactivityMs`, the deadline what is left. */
  handshake(waitingFor: string, inactivityMs: number, deaths?: Death[]): WaitLimits {
    const deadlineMs = this.leftMs();
    return { waitingFor, inactivityMs: Math.min(inactivityMs, deadlineMs), deadlineMs, reportedDeadlineMs: this.timeoutMs, signal: this.signal, deaths };
  }
}

/**
 * Where the raw-REPL output frame ends, or -1: the buffer holds `\x04` S `\x04>` where S, the
 * traceback, has no `\x04` and is empty or looks like one. Found from each `\x04>` back to the
 * `\x04` before it, so stdout may hold `\x04` (only a printed `\x04\x04>` itself is mistaken for the end).
 */
export function rawFrameEnd(buffer: string): number {
  let from = 0;
  for (;;) {
    const endAt = buffer.indexOf(`${CTRL_D}>`, from);
    if (endAt < 0) return -1;
    const stderrStart = buffer.lastIndexOf(CTRL_D, endAt - 1);
    if (stderrStart >= 0 && looksLikeTraceback(buffer.slice(stderrStart + 1, endAt))) return endAt + 2;
    from = endAt + 1;
  }
}

/** MicroPython's stderr in raw mode: nothing, a traceback, or (no traceback info) one `NameError: message` line. */
function looksLikeTraceback(text: string): boolean {
  return (
    text === '' ||
    text.startsWith('Traceback (most recent call last):') ||
    /^[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)(?::[^\r\n]*)?\r?\n?$/.test(text)
  );
}

/**
 * Limits for the wait on a command's output: what is left of the exec's deadline, silence allowed up
 * to that unless the caller set an inactivity limit, and the exec's whole deadline named on a timeout.
 */
function outputLimits(waitingFor: string, budget: ExecBudget, options: ExecOptions, deaths?: Death[]): WaitLimits {
  const deadlineMs = budget.leftMs();
  return {
    waitingFor,
    inactivityMs: Math.min(options.inactivityMs ?? deadlineMs, deadlineMs),
    deadlineMs,
    reportedDeadlineMs: budget.timeoutMs,
    signal: budget.signal,
    deaths,
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
