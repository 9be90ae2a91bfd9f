/**
 * The board worker's side of Python reading the REPL port (`sys.stdin`, `input()`, mpremote's
 * `mount`, which talks a binary protocol over the port while its code runs). The VM thread asks with
 * the bridge call `stdin` when it has no host bytes left (see micropython/port-stdin.ts); the next
 * host bytes answer it instead of going to the REPL. `kbd_intr` follows `micropython.kbd_intr()`:
 * while it is off, a Ctrl-C from the host is data (mount's length fields are full of 0x03), not an
 * interrupt. Back at the prompt it is on again, as MicroPython's pyexec sets it before each command.
 */

const CTRL_C = 0x03;
/** The most host bytes one answer carries; the rest goes to the VM as ordinary input, in order. */
export const STDIN_ANSWER_MAX_BYTES = 64 * 1024;

export class ReplStdin {
  private waiting: ((bytes: Buffer) => void) | undefined;
  private interruptChar = CTRL_C;

  /** Whether a Ctrl-C from the host is data for Python rather than a KeyboardInterrupt. */
  get ctrlCIsData(): boolean {
    return this.interruptChar !== CTRL_C;
  }

  /** Python finished: Ctrl-C interrupts again, and nobody waits for input. */
  reset(): void {
    this.interruptChar = CTRL_C;
  }

  /**
   * Answers the bridge calls `stdin` (`[limitMs, seenSeq]`: host bytes as latin1, '' after `limitMs`)
   * and `kbd_intr`. `sentSeq` is the last input message sent to the VM thread: when the VM has not
   * seen it yet, the bytes Python wants are on their way there, and the answer is '' at once.
   */
  async call(name: 'stdin' | 'kbd_intr', args: unknown[], signal: AbortSignal, sentSeq = 0): Promise<string | null> {
    if (name === 'kbd_intr') {
      this.interruptChar = typeof args[0] === 'number' ? args[0] : CTRL_C;
      return null;
    }
    if (typeof args[1] === 'number' && args[1] < sentSeq) return '';
    const limitMs = typeof args[0] === 'number' && args[0] > 0 ? args[0] : 1000;
    const bytes = await new Promise<Buffer>((resolve) => {
      const done = (answer: Buffer): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', abort);
        if (this.waiting === done) this.waiting = undefined;
        resolve(answer);
      };
      const abort = (): void => done(Buffer.alloc(0));
      // Answered empty at the limit so the VM thread never gives up on a call that may still be answered.
      const timer = setTimeout(abort, limitMs);
      signal.addEventListener('abort', abort, { once: true });
      this.waiting = done;
    });
    return bytes.toString('latin1');
  }

  /** Host bytes for the REPL port: what Python is waiting for is taken; the rest is returned. */
  offer(bytes: Buffer): Buffer {
    const waiting = this.waiting;
    if (!waiting || bytes.length === 0) return bytes;
    this.waiting = undefined;
    waiting(bytes.subarray(0, STDIN_ANSWER_MAX_BYTES));
    return bytes.subarray(STDIN_ANSWER_MAX_BYTES);
  }
}
