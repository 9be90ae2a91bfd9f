import { BoardError, LinkClosedError, WaitTimeoutError } from '../core/errors.js';
import type { Link } from '../link/link.js';
import { boardText, byteString, byteStringOfText, quoteBoardText } from './text.js';

/**
 * What to wait for, in the receive buffer's byte string (text.ts): a string (UTF-8 text, searched for
 * as its bytes), a pattern (run on the bytes), or a function returning the index just past the match (-1: none).
 */
export type Matcher = string | RegExp | ((buffer: string) => number);

/**
 * A death string (tbot's term): output that ends a wait at once with an error, because what is
 * awaited will not come (`REPL refuse`, a soft reboot). `error` gets the bytes received so far.
 */
export interface Death {
  marker: string | RegExp;
  error: (buffer: string) => Error;
}

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

const TAIL_BYTES = 400;
/** Bytes of the tail shown in a timeout error. */
const SHOWN_TAIL_BYTES = 200;

/**
 * Gathers every byte a link delivers into one buffer (a byte string, see text.ts) and lets one caller
 * at a time wait for a match in it, with an inactivity timeout, an overall deadline, death strings and
 * an abort signal. The buffer is capped (a flood fails the wait, never grows memory). When the link
 * closes, a pending wait fails at once with an error naming the port.
 */
export class Receiver {
  private buffer = '';
  private recent = '';
  private waiter: Waiter | undefined;
  private closedError: LinkClosedError | undefined;
  private lastByteAt = performance.now();
  /** Bytes received since the receiver was made. */
  private received = 0;
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
    link.onData((bytes) => this.push(bytes));
    link.onClose((error) => {
      this.closedError = error ?? new LinkClosedError(link.address, 'link was closed');
      this.waiter?.reject(this.closedError);
    });
  }

  /** The last few hundred bytes received, consumed or not (byte string), for error messages. */
  get tail(): string {
    return this.recent;
  }

  /** Unconsumed bytes (byte string). */
  get pending(): string {
    return this.buffer;
  }

  /** Drops everything buffered so far; returns it (byte string). */
  discard(): string {
    const dropped = this.buffer;
    this.buffer = '';
    return dropped;
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
    const death = this.findDeath(limits.deaths);
    if (death) return Promise.reject(death);
    const immediate = this.tryMatch(matcher);
    if (immediate) return Promise.resolve(immediate);

    return new Promise<Received>((resolve, reject) => {
      const startedAt = performance.now();
      this.lastByteAt = startedAt;
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
        receivedAtStart: this.received,
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
        const inactivityLeft = this.lastByteAt + limits.inactivityMs - now;
        if (deadlineLeft <= 0 || inactivityLeft <= 0) {
          const which = deadlineLeft <= 0 ? 'deadline' : 'inactivity';
          waiter.reject(
            new WaitTimeoutError(
              this.link.address,
              limits.waitingFor,
              which,
              Math.round(which === 'deadline' ? (limits.reportedDeadlineMs ?? limits.deadlineMs) : limits.inactivityMs),
              boardText(this.recent.slice(-SHOWN_TAIL_BYTES)),
              this.transcriptPath,
              this.received - waiter.receivedAtStart,
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
      const lastByteBefore = this.lastByteAt;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      collected = (collected + this.discard()).slice(-this.maxUnconsumedBytes);
      if (this.lastByteAt === lastByteBefore) break;
    }
    if (this.closedError) throw this.closedError;
    return collected;
  }

  private push(bytes: Buffer): void {
    const text = byteString(bytes);
    this.lastByteAt = performance.now();
    this.received += bytes.length;
    this.buffer += text;
    this.recent = (this.recent + text).slice(-TAIL_BYTES);
    const waiter = this.waiter;
    if (waiter) {
      const death = this.findDeath(waiter.limits.deaths);
      if (death) return waiter.reject(death);
      const received = this.tryMatch(waiter.matcher);
      if (received) return waiter.resolve(received);
    }
    const overflow = this.buffer.length - this.maxUnconsumedBytes;
    if (overflow <= 0) return;
    this.buffer = this.buffer.slice(overflow);
    this.dropped += overflow;
    waiter?.reject(
      new ReceiveFloodError(
        this.link.address,
        waiter.limits.waitingFor,
        this.received - waiter.receivedAtStart,
        this.dropped - waiter.droppedAtStart,
        this.maxUnconsumedBytes,
        boardText(this.recent.slice(-SHOWN_TAIL_BYTES)),
        this.transcriptPath,
      ),
    );
  }

  private findDeath(deaths: readonly Death[] | undefined): Error | undefined {
    for (const death of deaths ?? []) {
      const found =
        typeof death.marker === 'string' ? this.buffer.includes(byteStringOfText(death.marker)) : death.marker.test(this.buffer);
      if (found) return death.error(this.buffer);
    }
    return undefined;
  }

  private tryMatch(matcher: Matcher): Received | undefined {
    let start: number;
    let end: number;
    if (typeof matcher === 'string') {
      const bytes = byteStringOfText(matcher);
      start = this.buffer.indexOf(bytes);
      end = start + bytes.length;
    } else if (matcher instanceof RegExp) {
      const match = matcher.exec(this.buffer);
      start = match ? match.index : -1;
      end = match ? match.index + match[0].length : -1;
    } else {
      end = matcher(this.buffer);
      start = end;
    }
    if (start < 0 || end < 0) return undefined;
    const text = this.buffer.slice(0, end);
    this.buffer = this.buffer.slice(end);
    return { text, before: text.slice(0, start), matched: text.slice(start) };
  }
}
