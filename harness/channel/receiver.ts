import { BoardError, LinkClosedError, WaitTimeoutError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { firstDeath, ReceiveStream, type Death } from './stream.js';
import { byteStringOfText, quoteBoardText } from './text.js';

export type { Death } from './stream.js';

/**
 * What to wait for, in the receive buffer's byte string (text.ts): a string (UTF-8 text, searched for
 * as its bytes), a pattern (run on the bytes), or a function returning the index just past the match (-1: none).
 */
export type Matcher = string | RegExp | ((buffer: string) => number);

export interface WaitLimits {
  /** Said in the timeout error: "no <waitingFor> within ...". */
  waitingFor: string;
  /** Fail when no byte arrives for this long. */
  inactivityMs: number;
  /** Fail when the whole wait takes longer than this, however chatty the board. */
  deadlineMs: number;
  /** The deadline to name in a timeout error when this wait is the last part of a longer one (the caller's whole limit). */
  reportedDeadlineMs?: number;
  /** Aborting rejects the wait with the signal's reason. */
  signal?: AbortSignal;
  /** Death strings of this wait, checked after the receiver's own (ReceiverOptions.deaths). */
  deaths?: readonly Death[];
}

export interface Received {
  /** Everything consumed from the buffer, up to and including the match (byte string: decode with boardText). */
  text: string;
  /** The bytes before the match. */
  before: string;
  /** The matched bytes. */
  matched: string;
}

export interface ReceiverOptions {
  /** Where the link's transcript is written, named in timeout errors. */
  transcriptPath?: string;
  /** Most unconsumed bytes kept (default DEFAULT_MAX_UNCONSUMED_BYTES); beyond, the oldest are dropped and a wait fails. */
  maxUnconsumedBytes?: number;
  /** Death strings that end every wait (a protocol's standing rules, e.g. `REPL refuse`). */
  deaths?: readonly Death[];
}

/** Default cap on bytes a receiver or the AT channel holds that nobody consumed yet: 1 MiB. */
export const DEFAULT_MAX_UNCONSUMED_BYTES = 1 << 20;

/**
 * The board sent more than a receive buffer holds without what was awaited: a flood, the board's
 * fault. Says how much arrived during the wait and how much was dropped (the transcript has it all).
 */
export class ReceiveFloodError extends BoardError {
  constructor(
    readonly port: string,
    readonly waitingFor: string,
    /** Bytes that arrived during the wait. */
    readonly bytesReceived: number,
    /** Bytes dropped unread to keep the buffer within its cap. */
    readonly bytesDropped: number,
    readonly capBytes: number,
    tail: string,
    readonly transcriptPath?: string,
  ) {
    super(
      `${port}: flooded ${bytesReceived} bytes without ${waitingFor} ` +
        `(${bytesDropped} dropped unread beyond the ${capBytes}-byte receive buffer); last bytes received: ${quoteBoardText(tail)}` +
        (transcriptPath ? ` (full transcript: ${transcriptPath})` : ''),
    );
    this.name = 'ReceiveFloodError';
  }
}

interface Waiter {
  matcher: Matcher;
  limits: WaitLimits;
  /** `received` when the wait started. */
  receivedAtStart: number;
  /** `dropped` when the wait started. */
  droppedAtStart: number;
  resolve: (received: Received) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers every byte a link delivers into one buffer (the ReceiveStream engine, see stream.ts) and lets one caller
 * at a time wait for a match in it, with an inactivity timeout, an overall deadline, death strings and
 * an abort signal. The buffer is capped (a flood fails the wait, never grows memory). When the link
 * closes, a pending wait fails at once with an error naming the port.
 */
export class Receiver {
  private readonly stream = new ReceiveStream();
  private waiter: Waiter | undefined;
  private closedError: LinkClosedError | undefined;
  private readonly deaths: readonly Death[];
  /** Bytes dropped unread (beyond the cap) since the receiver was made. */
  private dropped = 0;
  readonly transcriptPath: string | undefined;
  readonly maxUnconsumedBytes: number;

  constructor(
    readonly link: Link,
    options: ReceiverOptions = {},
  ) {
    this.transcriptPath = options.transcriptPath;
    this.maxUnconsumedBytes = Math.max(1, options.maxUnconsumedBytes ?? DEFAULT_MAX_UNCONSUMED_BYTES);
    this.deaths = options.deaths ?? [];
    link.onData((bytes) => this.push(bytes));
    link.onClose((error) => {
      this.closedError = error ?? new LinkClosedError(link.address, 'link was closed');
      this.waiter?.reject(this.closedError);
    });
  }

  /** The last few hundred bytes received, consumed or not (byte string), for error messages. */
  get tail(): string {
    return this.stream.tail;
  }

  /** Unconsumed bytes (byte string). */
  get pending(): string {
    return this.stream.buffer;
  }

  /** Drops everything buffered so far; returns it (byte string). */
  discard(): string {
    return this.stream.take(this.stream.buffer.length);
  }

  /** Writes bytes, or a string as UTF-8 (protocol control characters are ASCII, so the same either way). */
  async write(text: string | Uint8Array): Promise<void> {
    if (this.closedError) throw this.closedError;
    await this.link.write(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  }

  /** Waits until `matcher` matches the buffer; consumes up to the end of the match. */
  waitFor(matcher: Matcher, limits: WaitLimits): Promise<Received> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (limits.signal?.aborted) return Promise.reject(limits.signal.reason);
    if (this.waiter) return Promise.reject(new Error(`${this.link.address}: two waits at once on one receiver`));
    const death = this.findDeath(limits);
    if (death) return Promise.reject(death);
    const immediate = this.tryMatch(matcher);
    if (immediate) return Promise.resolve(immediate);

    return new Promise<Received>((resolve, reject) => {
      const startedAt = performance.now();
      this.stream.lastByteAtMonoMs = startedAt;
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        limits.signal?.removeEventListener('abort', onAbort);
        this.waiter = undefined;
      };
      const onAbort = (): void => {
        finish();
        reject(limits.signal?.reason);
      };
      const waiter: Waiter = {
        matcher,
        limits,
        receivedAtStart: this.stream.received,
        droppedAtStart: this.dropped,
        resolve: (received) => {
          finish();
          resolve(received);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      };
      const check = (): void => {
        const now = performance.now();
        const deadlineLeft = startedAt + limits.deadlineMs - now;
        const inactivityLeft = this.stream.lastByteAtMonoMs + limits.inactivityMs - now;
        if (deadlineLeft <= 0 || inactivityLeft <= 0) {
          const which = deadlineLeft <= 0 ? 'deadline' : 'inactivity';
          waiter.reject(
            new WaitTimeoutError(
              this.link.address,
              limits.waitingFor,
              which,
              Math.round(which === 'deadline' ? (limits.reportedDeadlineMs ?? limits.deadlineMs) : limits.inactivityMs),
              this.stream.shownTail(),
              this.transcriptPath,
              this.stream.received - waiter.receivedAtStart,
            ),
          );
          return;
        }
        timer = setTimeout(check, Math.max(1, Math.min(deadlineLeft, inactivityLeft)));
      };
      limits.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = waiter;
      check();
    });
  }

  /**
   * Reads until the board has been quiet for `quietMs` (or `deadlineMs` passed); returns what came
   * (byte string, at most the cap's worth: the newest). For tools and tests; channels wait for prompts.
   */
  async drain(quietMs: number, deadlineMs: number): Promise<string> {
    const startedAt = performance.now();
    let collected = this.discard();
    while (performance.now() - startedAt < deadlineMs && !this.closedError) {
      const lastByteBefore = this.stream.lastByteAtMonoMs;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      collected = (collected + this.discard()).slice(-this.maxUnconsumedBytes);
      if (this.stream.lastByteAtMonoMs === lastByteBefore) break;
    }
    if (this.closedError) throw this.closedError;
    return collected;
  }

  private push(bytes: Buffer): void {
    this.stream.push(bytes);
    const waiter = this.waiter;
    if (waiter) {
      const death = this.findDeath(waiter.limits);
      if (death) return waiter.reject(death);
      const received = this.tryMatch(waiter.matcher);
      if (received) return waiter.resolve(received);
    }
    const overflow = this.stream.buffer.length - this.maxUnconsumedBytes;
    if (overflow <= 0) return;
    this.stream.take(overflow);
    this.dropped += overflow;
    waiter?.reject(
      new ReceiveFloodError(
        this.link.address,
        waiter.limits.waitingFor,
        this.stream.received - waiter.receivedAtStart,
        this.dropped - waiter.droppedAtStart,
        this.maxUnconsumedBytes,
        this.stream.shownTail(),
        this.transcriptPath,
      ),
    );
  }

  /** The receiver's standing death strings first, then the wait's own. */
  private findDeath(limits: WaitLimits): Error | undefined {
    return firstDeath(this.deaths, this.stream.buffer) ?? firstDeath(limits.deaths, this.stream.buffer);
  }

  private tryMatch(matcher: Matcher): Received | undefined {
    const buffer = this.stream.buffer;
    let start: number;
    let end: number;
    if (typeof matcher === 'string') {
      const bytes = byteStringOfText(matcher);
      start = buffer.indexOf(bytes);
      end = start + bytes.length;
    } else if (matcher instanceof RegExp) {
      const match = matcher.exec(buffer);
      start = match ? match.index : -1;
      end = match ? match.index + match[0].length : -1;
    } else {
      end = matcher(buffer);
      start = end;
    }
    if (start < 0 || end < 0) return undefined;
    const text = this.stream.take(end);
    return { text, before: text.slice(0, start), matched: text.slice(start) };
  }
}
