/**
 * The VM thread's side of Python reading the REPL port: fd 0 of the VM (`sys.stdin`, and through it
 * the board's `input()` and mpremote's `mount`) reads host bytes in the order they came. First those
 * already handed to the REPL but not yet typed into it (they arrived with the code, or while it ran),
 * then input messages still queued on the thread's port, then, blocking, the board worker's answer to
 * the bridge call `stdin` (see ../repl-stdin.ts). Bytes Python does not read stay for the REPL, as
 * they stay in a board's UART buffer.
 */

const CTRL_C = 0x03;
/** How long one `stdin` bridge call may wait before it is asked again (the wait itself has no end). */
const STDIN_POLL_MS = 30_000;

export interface PortStdinHooks {
  /** Takes up to `max` host bytes the REPL has queued but not processed. */
  takeQueued(max: number): number[];
  /** Appends host bytes to the REPL's queue. */
  queue(bytes: Uint8Array): void;
  /** Moves input messages waiting on the thread's port into the REPL's queue, synchronously. */
  absorbPending(): void;
  /** The last input message this thread has taken (processing or absorbed): the board worker answers at once when it sent more. */
  seenInputSeq(): number;
  /** The bridge, synchronous: `stdin` answers `{"v": "<latin1>"}` or `{"i": 1}` (a Ctrl-C). */
  bridge(name: string, limitMs: number, argsJson: string): string;
  /** The VM's interrupt character (`micropython.kbd_intr`), -1 when off. */
  interruptChar(): number;
  /** Raises KeyboardInterrupt in Python at its next check. */
  scheduleKeyboardInterrupt(): void;
}

/** One read of fd 0: at least one byte (blocking), at most `length`; 0 after a Ctrl-C. */
export function readPortStdin(hooks: PortStdinHooks, buffer: Uint8Array, offset: number, length: number): number {
  if (length <= 0) return 0;
  let bytes = hooks.takeQueued(length);
  if (bytes.length === 0) {
    hooks.absorbPending();
    bytes = hooks.takeQueued(length);
  }
  while (bytes.length === 0) {
    const args = JSON.stringify([STDIN_POLL_MS, hooks.seenInputSeq()]);
    const answer = JSON.parse(hooks.bridge('stdin', STDIN_POLL_MS, args)) as { v?: unknown; i?: unknown };
    // The answer's bytes go first: an input message on the port now was sent after them (the board
    // worker answers '' at once, without bytes, while one the VM has not seen is on its way). Host
    // bytes that arrive while this thread wakes up are such messages; taken first, they would swap
    // two of mount's writes (a length and its data) under load.
    if (typeof answer.v === 'string' && answer.v.length > 0) hooks.queue(Buffer.from(answer.v, 'latin1'));
    hooks.absorbPending();
    if (answer.i !== undefined) {
      hooks.scheduleKeyboardInterrupt();
      return 0;
    }
    bytes = hooks.takeQueued(length);
  }
  const interrupt = hooks.interruptChar();
  const stop = interrupt === CTRL_C ? bytes.indexOf(CTRL_C) : -1;
  if (stop >= 0) {
    // A Ctrl-C among the bytes interrupts Python and is not read; what follows it is lost with the read.
    hooks.scheduleKeyboardInterrupt();
    bytes = bytes.slice(0, stop);
  }
  buffer.set(bytes, offset);
  return bytes.length;
}
