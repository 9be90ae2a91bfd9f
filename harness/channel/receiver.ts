import { LinkClosedError, WaitTimeoutError } from '../core/errors.js';
import type { Link } from '../link/link.js';

/** What to wait for: a string, a pattern, or a function returning the index just past the match (-1: none). */
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
  signal?: AbortSignal;
}

export interface Received {
  /** Everything consumed from the buffer, up to and including the match. */
  text: string;
  /** The text before the match. */
  before: string;
  /** The matched text. */
  matched: string;
}

interface Waiter {
  matcher: Matcher;
  resolve: (received: Received) => void;
  reject: (error: Error) => void;
}

const TAIL_CHARS = 400;

/**
 * Gathers every byte a link delivers into one buffer (latin1 text, one char per byte) and lets one
 * caller at a time wait for a match in it, with an inactivity timeout and an overall deadline. When
 * the link closes, a pending wait fails at once with an error naming the port.
 */
export class Receiver {
  private buffer = '';
  private recent = '';
  private waiter: Waiter | undefined;
  private closedError: LinkClosedError | undefined;
  private lastByteAt = performance.now();

  constructor(
    readonly link: Link,
    readonly transcriptPath?: string,
  ) {
    link.onData((bytes) => this.push(bytes.toString('latin1')));
    link.onClose((error) => {
      this.closedError = error ?? new LinkClosedError(link.address, 'link was closed');
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter?.reject(this.closedError);
    });
  }

  /** The last few hundred bytes received, consumed or not, for error messages. */
  get tail(): string {
    return this.recent;
  }

  /** Unconsumed text. */
  get pending(): string {
    return this.buffer;
  }

  /** Drops everything buffered so far. */
  discard(): string {
    const dropped = this.buffer;
    this.buffer = '';
    return dropped;
  }

  async write(text: string | Uint8Array): Promise<void> {
    if (this.closedError) throw this.closedError;
    await this.link.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  }

  /** Waits until `matcher` matches the buffer; consumes up to the end of the match. */
  waitFor(matcher: Matcher, limits: WaitLimits): Promise<Received> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.waiter) return Promise.reject(new Error(`${this.link.address}: two waits at once on one receiver`));
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
        reject(limits.signal?.reason instanceof Error ? limits.signal.reason : new Error('aborted'));
      };
      const check = (): void => {
        const now = performance.now();
        const deadlineLeft = startedAt + limits.deadlineMs - now;
        const inactivityLeft = this.lastByteAt + limits.inactivityMs - now;
        if (deadlineLeft <= 0 || inactivityLeft <= 0) {
          finish();
          const which = deadlineLeft <= 0 ? 'deadline' : 'inactivity';
          reject(
            new WaitTimeoutError(
              this.link.address,
              limits.waitingFor,
              which,
              Math.round(which === 'deadline' ? (limits.reportedDeadlineMs ?? limits.deadlineMs) : limits.inactivityMs),
              this.recent.slice(-200),
              this.transcriptPath,
            ),
          );
          return;
        }
        timer = setTimeout(check, Math.max(1, Math.min(deadlineLeft, inactivityLeft)));
      };
      if (limits.signal?.aborted) {
        onAbort();
        return;
      }
      limits.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        matcher,
        resolve: (received) => {
          finish();
          resolve(received);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      };
      check();
    });
  }

  /** Reads until the board has been quiet for `quietMs` (or `deadlineMs` passed); returns what came. */
  async drain(quietMs: number, deadlineMs: number): Promise<string> {
    const startedAt = performance.now();
    let collected = this.discard();
    while (performance.now() - startedAt < deadlineMs && !this.closedError) {
      const lastByteBefore = this.lastByteAt;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      collected += this.discard();
      if (this.lastByteAt === lastByteBefore) break;
    }
    if (this.closedError) throw this.closedError;
    return collected;
  }

  private push(text: string): void {
    this.lastByteAt = performance.now();
    this.buffer += text;
    this.recent = (this.recent + text).slice(-TAIL_CHARS);
    const waiter = this.waiter;
    if (!waiter) return;
    const received = this.tryMatch(waiter.matcher);
    if (received) waiter.resolve(received);
  }

  private tryMatch(matcher: Matcher): Received | undefined {
    let start: number;
    let end: number;
    if (typeof matcher === 'string') {
      start = this.buffer.indexOf(matcher);
      end = start + matcher.length;
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
