import { InputError, LinkClosedError, WaitTimeoutError } from '../../core/errors.js';
import type { Link } from '../../link/link.js';
import { DEFAULT_MAX_UNCONSUMED_BYTES, ReceiveFloodError } from '../receiver.js';
import { firstDeath, ReceiveStream, type Death } from '../stream.js';
import { boardText, quoteBoardText } from '../text.js';
import { commandKey, maxResponseMs, responsePrefix } from './codes.js';
import { AtGarbledReplyError, AtRebootError, AtResyncError, AtTimeoutError, errorOfFailure } from './errors.js';
import { parseFinalCode, type AtFailure, type AtOk, type AtResult, type FinalCode } from './result.js';

export interface AtChannelOptions {
  /** Where the link's transcript is written, named in timeout errors. */
  transcriptPath?: string;
  /** Deadline overrides by command key (`+QIACT=`: 5000), ms; see MAX_RESPONSE_MS. */
  timeoutsMs?: Readonly<Record<string, number>>;
  /**
   * Deadline for the resynchronising `AT+CMEE?` sent after a command got no final code without its
   * echo, ms (default RESYNC_TIMEOUT_MS, and never more than the next command's own limit).
   */
  resyncTimeoutMs?: number;
  /**
   * Cap on bytes received while one command or URC wait runs, and on a line without its end
   * (default: 1 MiB). A flood beyond fails the wait with ReceiveFloodError (the board's fault).
   */
  maxUnconsumedBytes?: number;
}

export interface CommandOptions {
  /** Overrides the table's deadline for the final result code, ms from the write. */
  timeoutMs?: number;
  /** Says where `timeoutMs` came from in a timeout error (`what was left of the dial's 60s`). */
  limitSource?: string;
  signal?: AbortSignal;
}

/** An unsolicited result code. */
export interface Urc {
  line: string;
  /** `+QIURC`, `+CEREG`, `RDY`... */
  name: string;
  /** Host wall-clock ms when the line was parsed. */
  hostWallMs: number;
  /** Host monotonic ms (performance.now()) when the line was parsed; compare with `since`. */
  hostMonoMs: number;
}

export type UrcMatcher = string | ((urc: Urc) => boolean);

export interface UrcWaitOptions {
  /** Also accept a URC that arrived at or after this host monotonic time (performance.now()), before the call. */
  sinceMonoMs?: number;
  signal?: AbortSignal;
}

/** Bare-word URCs (no `+NAME:`) a module prints on its own. Any other bare line during a command is its output. */
const BARE_URCS = new Set(['RDY', 'POWERED DOWN', 'NORMAL POWER DOWN', 'CALL READY', 'SMS READY', 'RING']);
/**
 * Names that are URCs even while a command of the same name runs: `AT+QNTP=` answers OK and its
 * `+QNTP:` line always comes later, unsolicited.
 */
const URC_EVEN_DURING: Readonly<Record<string, readonly string[]>> = { '+QNTP=': ['+QNTP'] };
const ALWAYS_URC = new Set(['+QIURC', '+QIND', '+QUSIM', '+CTZE', '+CTZV']);

const URC_BACKLOG = 100;
const NOTES_KEPT = 100;

/**
 * The probe sent to resynchronise after a command timed out without its echo. Not a bare `AT`: with
 * echo off its `OK` cannot be told from the timed-out command's late `OK` (the board answers that one
 * first, after the probe was written), so the probe must name itself. `AT+CMEE?` is a 300 ms read with
 * no side effect that every Quectel module (and the simulator) answers `+CMEE: <n>` then `OK`, and no
 * other command or URC prints `+CMEE:`.
 */
export const RESYNC_PROBE = 'AT+CMEE?';
const RESYNC_MARKER = '+CMEE';
/** Default deadline of the resync probe, ms: the short-command floor (USB and a busy module). */
export const RESYNC_TIMEOUT_MS = 2_000;

interface Running {
  command: string;
  key: string;
  prefix: string | undefined;
  limitMs: number;
  limitSource: string;
  options: CommandOptions;
  resolve: (result: AtResult) => void;
  reject: (error: unknown) => void;
  echoSeen: boolean;
  lines: string[];
  /** Lines received while it ran that had bytes that are not text (shown as `\xNN`): garbled output. */
  garbled: string[];
  /** The channel's byte count when the command was written. */
  receivedAtSend: number;
  hostSendMs: number;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
}

/** A resync in progress: the probe is written, its `+CMEE:` line and final code awaited. */
interface Resync {
  /** The command that waits for the resync; undefined once it was aborted. */
  owner: Running | undefined;
  limitMs: number;
  markerSeen: boolean;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
}

/**
 * What the channel knows about a command it gave up on (deadline, abort, flood) that the board may
 * still answer. One state at a time; `resync-needed` outranks `late-final` (it drops that final too).
 */
type LateAnswer =
  /** Nothing given up on: every final code belongs to the running command. */
  | { kind: 'none' }
  /**
   * Given up after its echo: with echo on, the next command's final always follows its echo, so a
   * final code before that echo is the late one (dropped).
   */
  | { kind: 'late-final' }
  /**
   * Given up without its echo (echo off, or a silent board): nothing tells its late final code from
   * the next command's, so before the next command the channel writes RESYNC_PROBE.
   */
  | { kind: 'resync-needed'; unanswered: Unanswered }
  /** The probe is written; everything up to the final code after its `+CMEE:` line is dropped. */
  | { kind: 'resyncing'; unanswered: Unanswered; resync: Resync };

/** The command whose late answer a resync drops: its response lines are not URCs. */
interface Unanswered {
  command: string;
  prefix: string | undefined;
}

/**
 * Death strings of a running command, matched on each whole line: `RDY` is the board booting, so the
 * command in flight is forgotten. Matched only once the board had the command (its echo, or a
 * response line): a `RDY` before that is boot output that raced the write, and stays a plain URC.
 */
function commandDeaths(port: string, command: string): Death[] {
  return [{ marker: /^RDY$/i, error: (line) => new AtRebootError(port, command, line) }];
}

interface UrcWaiter {
  matcher: UrcMatcher;
  description: string;
  receivedAtStart: number;
  resolve: (urc: Urc) => void;
  reject: (error: unknown) => void;
}

/**
 * Quectel AT commands over one link: one command in flight at a time (others queue), echo on or
 * off, final result codes as typed results, URCs to subscribers at any time, per-command deadlines
 * from Quectel's maximum response times. Lines may end in `\r\n` or a bare `\r` and are decoded as
 * UTF-8 (operator and server names may not be ASCII). Junk (NUL, control and non-UTF-8 bytes) at either
 * end of a line is noise and trimmed; inside a line it is shown (`\xNN`), never silently removed, so a
 * garbled reading cannot pass as a good one; a line of nothing but junk is dropped. Everything held is
 * capped (maxUnconsumedBytes). A command given up on (deadline, abort) may still be answered:
 * with its echo seen, a final code before the next command's echo is dropped; without (echo off), the
 * channel resynchronises with RESYNC_PROBE before the next command. `RDY` (the board rebooted) in the
 * middle of a command ends it at once with AtRebootError, a death string (see stream.ts).
 */
export class AtChannel {
  /** What arrived: the line being received (unconsumed bytes), the tail, the byte count. */
  private readonly stream = new ReceiveStream();
  private readonly maxUnconsumedBytes: number;
  private running: Running | undefined;
  private readonly queue: Running[] = [];
  private readonly urcListeners = new Set<(urc: Urc) => void>();
  private readonly urcWaiters = new Set<UrcWaiter>();
  private readonly backlog: { urc: Urc; consumed: boolean }[] = [];
  private closedError: LinkClosedError | undefined;
  private late: LateAnswer = { kind: 'none' };
  /**
   * Probes written whose answer was not consumed yet (a resync that timed out leaves one behind). A
   * `+CMEE:` line outside a resync is such an answer: it and the final code after it are dropped.
   */
  private probesOutstanding = 0;
  private dropNextFinal = false;
  private readonly noteList: string[] = [];
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    readonly link: Link,
    private readonly options: AtChannelOptions = {},
  ) {
    this.maxUnconsumedBytes = Math.max(1, options.maxUnconsumedBytes ?? DEFAULT_MAX_UNCONSUMED_BYTES);
    this.unsubscribe.push(link.onData((bytes) => this.receive(bytes)));
    this.unsubscribe.push(
      link.onClose((error) => this.fail(error ?? new LinkClosedError(link.address, 'link was closed'))),
    );
  }

  get address(): string {
    return this.link.address;
  }

  get transcriptPath(): string | undefined {
    return this.options.transcriptPath;
  }

  /** The last few hundred bytes received, decoded, for error messages. */
  get tail(): string {
    return boardText(this.stream.tail);
  }

  /** What the channel dropped as a late or stray answer (resyncs, late final codes), oldest first; the last 100. */
  get notes(): readonly string[] {
    return this.noteList;
  }

  /** Runs a command; resolves on OK, rejects with AtCommandError (CmeError, CmsError) on a board error. */
  async send(command: string, options: CommandOptions = {}): Promise<AtOk> {
    const result = await this.execute(command, options);
    if (result.final === 'OK') return result;
    throw errorOfFailure(this.address, command, result);
  }

  /**
   * Runs a command and resolves with whatever final result code it got; rejects only when no final
   * code came (AtTimeoutError), the link closed (LinkClosedError) or the signal aborted.
   */
  execute(command: string, options: CommandOptions = {}): Promise<AtResult> {
    const line = command.trim();
    if (/[\r\n]/.test(line) || !/^AT/i.test(line)) {
      return Promise.reject(new InputError(`not a single AT command line: ${JSON.stringify(command)}`));
    }
    if (this.closedError) return Promise.reject(this.closedError);
    const key = commandKey(line);
    const limitMs = Math.round(options.timeoutMs ?? this.limitMs(line));
    const limitSource =
      options.limitSource ??
      (options.timeoutMs !== undefined || this.options.timeoutsMs?.[key] !== undefined
        ? 'overridden limit'
        : 'Quectel maximum response time, or the short-command floor');
    return new Promise<AtResult>((resolve, reject) => {
      this.queue.push({
        command: line,
        key,
        prefix: responsePrefix(line),
        limitMs,
        limitSource,
        options,
        resolve,
        reject,
        echoSeen: false,
        lines: [],
        garbled: [],
        receivedAtSend: 0,
        hostSendMs: 0,
      });
      this.pump();
    });
  }

  /** The deadline this channel gives `command` by default: Quectel's table with this channel's overrides, ms. */
  limitMs(command: string): number {
    return maxResponseMs(command, this.options.timeoutsMs);
  }

  /** Every URC, as it arrives, whether or not a command is running. Returns an unsubscribe function. */
  onUrc(listener: (urc: Urc) => void): () => void {
    this.urcListeners.add(listener);
    return () => this.urcListeners.delete(listener);
  }

  /**
   * Waits for a URC starting with `matcher` (or satisfying it) for at most `deadlineMs`. With
   * `sinceMonoMs`, a matching URC that already arrived since then counts too (each one is handed out once),
   * so a URC that came in the same chunk as a command's OK is not missed.
   */
  waitForUrc(matcher: UrcMatcher, deadlineMs: number, options: UrcWaitOptions = {}): Promise<Urc> {
    if (options.sinceMonoMs !== undefined) {
      const since = options.sinceMonoMs;
      const early = this.backlog.find(
        (entry) => !entry.consumed && entry.urc.hostMonoMs >= since && urcMatches(matcher, entry.urc),
      );
      if (early) {
        early.consumed = true;
        return Promise.resolve(early.urc);
      }
    }
    if (this.closedError) return Promise.reject(this.closedError);
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const description = typeof matcher === 'string' ? `URC ${matcher}` : 'matching URC';
    return new Promise<Urc>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.urcWaiters.delete(waiter);
      };
      const onAbort = (): void => {
        finish();
        reject(options.signal?.reason);
      };
      const waiter: UrcWaiter = {
        matcher,
        description,
        receivedAtStart: this.stream.received,
        resolve: (urc) => {
          finish();
          resolve(urc);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new WaitTimeoutError(
            this.address,
            description,
            'deadline',
            deadlineMs,
            this.stream.shownTail(),
            this.options.transcriptPath,
            this.stream.received - waiter.receivedAtStart,
          ),
        );
      }, deadlineMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.urcWaiters.add(waiter);
    });
  }

  /** Stops listening to the link (the link stays open) and fails anything pending. */
  detach(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.fail(new LinkClosedError(this.address, 'AT channel detached'));
  }

  async close(): Promise<void> {
    await this.link.close();
  }

  private pump(): void {
    if (this.running || this.late.kind === 'resyncing') return;
    const next = this.queue.shift();
    if (!next) return;
    if (this.closedError) {
      next.reject(this.closedError);
      this.pump();
      return;
    }
    if (next.options.signal?.aborted) {
      next.reject(abortReason(next.options.signal));
      this.pump();
      return;
    }
    if (this.late.kind === 'resync-needed') {
      this.startResync(next, this.late.unanswered);
      return;
    }
    this.running = next;
    next.timer = setTimeout(() => {
      this.expectLateAnswer(next);
      const waitingFor = `final result code for ${next.command} (${next.limitSource})`;
      // Garbled lines and then no final code: the board's output is broken, evidence enough to blame it.
      const error =
        next.garbled.length > 0
          ? new AtGarbledReplyError(this.address, next.command, next.garbled, `no final result code within ${next.limitMs}ms (${next.limitSource})`)
          : new AtTimeoutError(
              this.address,
              next.command,
              waitingFor,
              next.limitMs,
              this.stream.shownTail(),
              this.options.transcriptPath,
              this.stream.received - next.receivedAtSend,
            );
      this.finishRunning(next, () => next.reject(error));
    }, next.limitMs);
    if (next.options.signal) {
      const signal = next.options.signal;
      next.onAbort = () => {
        if (this.running === next) this.expectLateAnswer(next);
        this.finishRunning(next, () => next.reject(abortReason(signal)));
      };
      signal.addEventListener('abort', next.onAbort, { once: true });
    }
    next.hostSendMs = Date.now();
    next.receivedAtSend = this.stream.received;
    this.link.write(Buffer.from(`${next.command}\r`, 'utf8')).catch((error: unknown) => {
      this.finishRunning(next, () => next.reject(error instanceof Error ? error : new Error(String(error))));
    });
  }

  /** `command` was given up while the board may still answer it. */
  private expectLateAnswer(command: Running): void {
    if (command.echoSeen) {
      if (this.late.kind === 'none') this.late = { kind: 'late-final' };
      return;
    }
    this.late = { kind: 'resync-needed', unanswered: { command: command.command, prefix: command.prefix } };
  }

  /** Writes RESYNC_PROBE before `owner`; `owner` runs once the probe's answer came, or fails if it did not in time. */
  private startResync(owner: Running, unanswered: Unanswered): void {
    const limitMs = Math.max(1, Math.min(this.options.resyncTimeoutMs ?? RESYNC_TIMEOUT_MS, owner.limitMs));
    const resync: Resync = { owner, limitMs, markerSeen: false };
    this.late = { kind: 'resyncing', unanswered, resync };
    // A stray probe answer still in flight now arrives before this probe's marker and is dropped there.
    this.dropNextFinal = false;
    this.probesOutstanding += 1;
    const after = unanswered.command;
    const receivedAtStart = this.stream.received;
    resync.timer = setTimeout(() => {
      this.endResync(
        resync,
        new AtResyncError(
          this.address,
          owner.command,
          `answer to ${RESYNC_PROBE} (resynchronising after ${after} got no final result code, before ${owner.command}; resync deadline)`,
          limitMs,
          this.stream.shownTail(),
          this.options.transcriptPath,
          this.stream.received - receivedAtStart,
        ),
      );
    }, limitMs);
    const signal = owner.options.signal;
    if (signal) {
      resync.onAbort = () => {
        resync.owner = undefined;
        owner.reject(abortReason(signal));
      };
      signal.addEventListener('abort', resync.onAbort, { once: true });
    }
    this.link.write(Buffer.from(`${RESYNC_PROBE}\r`, 'latin1')).catch((error: unknown) => {
      this.probesOutstanding = Math.max(0, this.probesOutstanding - 1);
      this.endResync(resync, error instanceof Error ? error : new Error(String(error)));
    });
  }

  /** Ends a resync once: on success its command goes first in the queue; on failure that command fails with `error`. */
  private endResync(resync: Resync, error: Error | undefined): void {
    const late = this.late;
    if (late.kind !== 'resyncing' || late.resync !== resync) return;
    clearTimeout(resync.timer);
    const owner = resync.owner;
    if (resync.onAbort) owner?.options.signal?.removeEventListener('abort', resync.onAbort);
    if (error) {
      // Still out of step: the next command resynchronises again.
      this.late = { kind: 'resync-needed', unanswered: late.unanswered };
      owner?.reject(error);
    } else {
      this.late = { kind: 'none' };
      if (owner) this.queue.unshift(owner);
    }
    this.pump();
  }

  private note(text: string): void {
    this.noteList.push(text);
    if (this.noteList.length > NOTES_KEPT) this.noteList.shift();
  }

  /** Ends the running command once (a timer, an abort and a final code may race), then starts the next. */
  private finishRunning(command: Running, settle: () => void): void {
    if (this.running !== command) return;
    clearTimeout(command.timer);
    if (command.onAbort) command.options.signal?.removeEventListener('abort', command.onAbort);
    this.running = undefined;
    settle();
    this.pump();
  }

  private receive(bytes: Buffer): void {
    this.stream.push(bytes);
    for (let raw = this.stream.takeLine(); raw !== undefined; raw = this.stream.takeLine()) {
      const { line, garbled } = atLineOf(raw);
      if (!line) {
        if (garbled) this.note(`dropped a line of noise: ${quoteBoardText(boardText(raw), 40)}`);
        continue;
      }
      if (garbled) this.running?.garbled.push(line);
      this.handleLine(line);
    }
    const partial = this.stream.buffer.length;
    if (partial > this.maxUnconsumedBytes) {
      this.note(`dropped ${partial} bytes of a line longer than ${this.maxUnconsumedBytes} bytes`);
      this.stream.take(partial);
    }
    this.checkFlood();
  }

  /** A command or URC wait during which more than the cap arrived fails: the board floods. */
  private checkFlood(): void {
    const running = this.running;
    if (running && this.stream.received - running.receivedAtSend > this.maxUnconsumedBytes) {
      this.expectLateAnswer(running);
      const error = this.floodError(`final result code for ${running.command}`, running.receivedAtSend);
      this.finishRunning(running, () => running.reject(error));
    }
    for (const waiter of [...this.urcWaiters]) {
      if (this.stream.received - waiter.receivedAtStart > this.maxUnconsumedBytes) waiter.reject(this.floodError(waiter.description, waiter.receivedAtStart));
    }
  }

  private floodError(waitingFor: string, receivedAtStart: number): ReceiveFloodError {
    const arrived = this.stream.received - receivedAtStart;
    return new ReceiveFloodError(
      this.address,
      waitingFor,
      arrived,
      arrived - this.maxUnconsumedBytes,
      this.maxUnconsumedBytes,
      this.stream.shownTail(),
      this.options.transcriptPath,
    );
  }

  private handleLine(line: string): void {
    if (this.late.kind === 'resyncing') {
      this.handleResyncLine(this.late.resync, this.late.unanswered, line);
      return;
    }
    const running = this.running;
    if (this.dropNextFinal && parseFinalCode(line)) {
      this.dropNextFinal = false;
      this.note(`dropped ${line}: the final code of an earlier ${RESYNC_PROBE}`);
      return;
    }
    if (this.probesOutstanding > 0 && isResyncMarker(line) && running?.prefix !== RESYNC_MARKER) {
      // An earlier probe's answer, late: the board answers in order, so the next final code is its too.
      this.probesOutstanding -= 1;
      this.dropNextFinal = true;
      this.note(`dropped ${line}: the answer of an earlier ${RESYNC_PROBE}`);
      return;
    }
    if (!running) {
      // A final code with nothing running is a late answer to a command that already timed out.
      if (parseFinalCode(line)) {
        if (this.late.kind === 'late-final') this.late = { kind: 'none' };
        this.note(`dropped ${line}: no command was running`);
      } else this.emitUrc(line);
      return;
    }
    if (!running.echoSeen && running.lines.length === 0 && isEcho(line, running.command)) {
      running.echoSeen = true;
      if (this.late.kind === 'late-final') this.late = { kind: 'none' };
      return;
    }
    if (running.echoSeen || running.lines.length > 0) {
      const error = firstDeath(commandDeaths(this.address, running.command), line);
      if (error) {
        // The board forgot the command (and any late answer): nothing of it will come.
        if (this.late.kind === 'late-final') this.late = { kind: 'none' };
        this.finishRunning(running, () => running.reject(error));
        this.emitUrc(line);
        return;
      }
    }
    const final = parseFinalCode(line);
    if (final && this.late.kind === 'late-final' && !running.echoSeen) {
      this.late = { kind: 'none' };
      this.note(`dropped ${line}: came before the echo of ${running.command}, so the late answer of an earlier command`);
      return;
    }
    if (final) {
      const hostReceiveMs = Date.now();
      this.finishRunning(running, () => running.resolve(resultOf(running, final, hostReceiveMs)));
      return;
    }
    if (isResponseLine(line, running)) running.lines.push(line);
    else this.emitUrc(line);
  }

  /**
   * During a resync: the probe's `+CMEE:` line, then the final code after it, end it; so does `RDY` (a
   * rebooted board owes nothing). Final codes before
   * that line, and output of the command that went unanswered, are its late answer: dropped and noted.
   * URCs still go to subscribers.
   */
  private handleResyncLine(resync: Resync, unanswered: Unanswered, line: string): void {
    if (isEcho(line, RESYNC_PROBE)) return;
    if (isResyncMarker(line)) {
      resync.markerSeen = true;
      return;
    }
    const after = unanswered.command;
    if (firstDeath(commandDeaths(this.address, after), line)) {
      // The board rebooted: nothing of the unanswered command will come, so the channel is in step.
      // The probe's answer, if the board got it after booting, is dropped as a stray (probesOutstanding).
      this.note(`${line} while resynchronising after ${after}: the board rebooted, so no late answer will come`);
      this.emitUrc(line);
      this.endResync(resync, undefined);
      return;
    }
    if (parseFinalCode(line)) {
      if (resync.markerSeen) {
        this.probesOutstanding = Math.max(0, this.probesOutstanding - 1);
        this.endResync(resync, undefined);
      } else {
        this.note(`dropped ${line} while resynchronising after ${after}: a late final code`);
      }
      return;
    }
    const named = /^([+$^][A-Za-z0-9_]+):/.exec(line)?.[1]?.toUpperCase();
    const isUrc = named
      ? ALWAYS_URC.has(named) || named !== unanswered.prefix
      : BARE_URCS.has(line.toUpperCase());
    if (isUrc) this.emitUrc(line);
    else this.note(`dropped ${line} while resynchronising after ${after}: its late output`);
  }

  private emitUrc(line: string): void {
    const urc: Urc = { line, name: urcName(line), hostWallMs: Date.now(), hostMonoMs: performance.now() };
    const entry = { urc, consumed: false };
    this.backlog.push(entry);
    if (this.backlog.length > URC_BACKLOG) this.backlog.shift();
    for (const listener of [...this.urcListeners]) listener(urc);
    for (const waiter of [...this.urcWaiters]) {
      if (!entry.consumed && urcMatches(waiter.matcher, urc)) {
        entry.consumed = true;
        waiter.resolve(urc);
      }
    }
  }

  private fail(error: LinkClosedError): void {
    if (this.closedError) return;
    this.closedError = error;
    if (this.late.kind === 'resyncing') this.endResync(this.late.resync, error);
    const running = this.running;
    if (running) this.finishRunning(running, () => running.reject(error));
    for (const queued of this.queue.splice(0)) queued.reject(error);
    for (const waiter of [...this.urcWaiters]) waiter.reject(error);
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason;
}

/** Junk in an AT line: C0 controls, DEL, C1 controls, and bytes that are not UTF-8 (shown as `\xNN`). */
const JUNK = /[\u0000-\u001f\u007f-\u009f]|\\x[89a-f][0-9a-f]/;
const LEADING_JUNK = new RegExp(`^(?:${JUNK.source}|\\s)+`);
const TRAILING_JUNK = new RegExp(`(?:${JUNK.source}|\\s)+$`);

/**
 * One received line (bytes) as text: UTF-8, junk at the ends (noise from a re-enumerating port, NUL
 * padding) trimmed, junk inside shown escaped; `garbled` when it had any junk at all.
 */
export function atLineOf(raw: string): { line: string; garbled: boolean } {
  const decoded = boardText(raw);
  const trimmed = decoded.replace(LEADING_JUNK, '').replace(TRAILING_JUNK, '');
  const inside = trimmed.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return { line: inside, garbled: trimmed !== decoded.trim() || JUNK.test(trimmed) };
}

/** The echo is the command line itself; tolerate junk before it (noise when the port opened). */
function isEcho(line: string, command: string): boolean {
  return line.toUpperCase().endsWith(command.toUpperCase());
}

function isResyncMarker(line: string): boolean {
  return line.toUpperCase().startsWith(`${RESYNC_MARKER}:`);
}

/** `+QIURC: "pdpdeact",1` -> `+QIURC`; `RDY` -> `RDY`. */
export function urcName(line: string): string {
  const match = /^([+$^][A-Za-z0-9_]+):/.exec(line);
  return match?.[1]?.toUpperCase() ?? line.toUpperCase();
}

function isResponseLine(line: string, running: Running): boolean {
  const named = /^([+$^][A-Za-z0-9_]+):/.exec(line)?.[1]?.toUpperCase();
  if (named) {
    if (ALWAYS_URC.has(named)) return false;
    if (URC_EVEN_DURING[running.key]?.includes(named)) return false;
    return named === running.prefix;
  }
  return !BARE_URCS.has(line.toUpperCase());
}

function urcMatches(matcher: UrcMatcher, urc: Urc): boolean {
  return typeof matcher === 'string' ? urc.line.startsWith(matcher) : matcher(urc);
}

function resultOf(running: Running, final: FinalCode, hostReceiveMs: number): AtResult {
  const base = { command: running.command, lines: running.lines, hostSendMs: running.hostSendMs, hostReceiveMs };
  if (final.final === 'OK') return { ...base, final: 'OK' } satisfies AtOk;
  return { ...base, ...final } satisfies AtFailure;
}
