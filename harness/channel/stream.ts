import { boardText, byteString, byteStringOfText } from './text.js';

/**
 * A death string (tbot's term): output that ends a wait at once with an error, because what is
 * awaited will not come (`REPL refuse`, a soft reboot, `RDY`). `error` gets the bytes received so far
 * (the REPL's unconsumed buffer, or the AT line that matched).
 */
export interface Death {
  marker: string | RegExp;
  error: (buffer: string) => Error;
}

/** The first death among `deaths` whose marker is in `subject` (a byte string), as its error. */
export function firstDeath(deaths: readonly Death[] | undefined, subject: string): Error | undefined {
  for (const death of deaths ?? []) {
    const found = typeof death.marker === 'string' ? subject.includes(byteStringOfText(death.marker)) : death.marker.test(subject);
    if (found) return death.error(subject);
  }
  return undefined;
}

/** Bytes of the tail kept for error messages. */
const TAIL_BYTES = 400;
/** Bytes of the tail shown in a timeout or flood error. */
export const SHOWN_TAIL_BYTES = 200;

/**
 * The receive engine under both channels: every byte a link delivers, kept as one byte string (see
 * text.ts) of what nobody consumed yet, a tail of the last few hundred bytes for error messages, and
 * a count of bytes received. The REPL's Receiver matches in `buffer`; the AT channel takes lines
 * from it. Neither decodes before a frame (a match, a line) is whole.
 */
export class ReceiveStream {
  /** Unconsumed bytes (byte string). */
  buffer = '';
  private recent = '';
  /** Bytes received since the stream was made. */
  received = 0;
  /** Host monotonic ms (performance.now()) of the last byte. */
  lastByteAtMonoMs = performance.now();

  /** Appends what arrived; returns it as a byte string. */
  push(bytes: Uint8Array): string {
    const text = byteString(bytes);
    this.lastByteAtMonoMs = performance.now();
    this.received += bytes.length;
    this.buffer += text;
    this.recent = (this.recent + text).slice(-TAIL_BYTES);
    return text;
  }

  /** The last few hundred bytes received, consumed or not (byte string). */
  get tail(): string {
    return this.recent;
  }

  /** The tail shown in an error message, decoded. */
  shownTail(bytes = SHOWN_TAIL_BYTES): string {
    return boardText(this.recent.slice(-bytes));
  }

  /** Consumes the first `end` bytes of the buffer and returns them. */
  take(end: number): string {
    const taken = this.buffer.slice(0, end);
    this.buffer = this.buffer.slice(end);
    return taken;
  }

  /** Consumes the next line (without its `\r` or `\n`), or undefined when no line end arrived yet. */
  takeLine(): string | undefined {
    const end = this.buffer.search(/[\r\n]/);
    if (end < 0) return undefined;
    const line = this.buffer.slice(0, end);
    this.buffer = this.buffer.slice(end + 1);
    return line;
  }
}
