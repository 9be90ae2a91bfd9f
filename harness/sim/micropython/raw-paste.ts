/** Raw-paste flow-control window the sim grants, in bytes (MicroPython's usual stdin buffer). */
export const RAW_PASTE_WINDOW_BYTES = 256;

const [CTRL_A, CTRL_C, CTRL_D, CTRL_E] = [0x01, 0x03, 0x04, 0x05];
const LETTER_A = 0x41;

/** What the REPL does with a byte the raw-paste negotiation has seen. */
export type PasteStep =
  /** Taken by the negotiation (the request so far, a granted paste's code, a flow-control point). */
  | { kind: 'taken' }
  /** Not a raw-paste request after all: these bytes go to the VM as typed. */
  | { kind: 'typed'; bytes: number[] }
  /** End of data (`\x04`, acknowledged already): run the code through plain raw mode, without its `OK`. */
  | { kind: 'run'; code: number[] }
  /** Ctrl-C ended the paste, as MicroPython's stdin reader does: KeyboardInterrupt and the raw prompt are printed. */
  | { kind: 'interrupted' };

/**
 * MicroPython's raw-paste mode on the REPL side (pyexec.c): `\x05A\x01` at an empty raw line asks for
 * it; the answer is `R\x01` with the window size and a first credit (or `R\x00` when refused); every
 * window of code earns one `\x01`; `\x04` ends the data (acknowledged with `\x04`) and Ctrl-C aborts it.
 * The VM's event-driven REPL spins forever on the request, so the sim negotiates it here.
 */
export class RawPaste {
  private state: { stage: 'request'; seen: number } | { stage: 'collect'; code: number[]; sinceGrant: number } | undefined;

  /** `emit`: bytes for the host (sent when the REPL flushes). `grant`: answer `R\x01`, else `R\x00`. */
  constructor(
    private readonly emit: (bytes: Iterable<number>) => void,
    private readonly grant: boolean,
  ) {}

  get active(): boolean {
    return this.state !== undefined;
  }

  /** A byte at an empty raw line: true when it starts a request (`\x05`), which is then taken. */
  start(byte: number): boolean {
    if (byte !== CTRL_E) return false;
    this.state = { stage: 'request', seen: 1 };
    return true;
  }

  reset(): void {
    this.state = undefined;
  }

  /** The next byte while active. */
  take(byte: number): PasteStep {
    const state = this.state;
    if (!state) return { kind: 'typed', bytes: [byte] };
    if (state.stage === 'request') {
      if (byte !== (state.seen === 1 ? LETTER_A : CTRL_A)) {
        this.state = undefined;
        return { kind: 'typed', bytes: [CTRL_E, ...(state.seen === 2 ? [LETTER_A] : []), byte] };
      }
      if (state.seen === 1) {
        state.seen = 2;
        return { kind: 'taken' };
      }
      const window = RAW_PASTE_WINDOW_BYTES;
      this.emit(this.grant ? [0x52 /* R */, 0x01, window & 0xff, window >> 8, 0x01] : [0x52, 0x00]);
      this.state = this.grant ? { stage: 'collect', code: [], sinceGrant: 0 } : undefined;
      return { kind: 'taken' };
    }
    if (byte === CTRL_C) {
      this.state = undefined;
      // The reader's end of data, then the exception frame of the raw REPL, then its prompt.
      this.emit(Buffer.from('\x04\x04KeyboardInterrupt: \r\n\x04>', 'latin1'));
      return { kind: 'interrupted' };
    }
    if (byte === CTRL_D) {
      this.state = undefined;
      this.emit([CTRL_D]);
      return { kind: 'run', code: state.code };
    }
    state.code.push(byte);
    state.sinceGrant += 1;
    if (state.sinceGrant >= RAW_PASTE_WINDOW_BYTES) {
      state.sinceGrant = 0;
      this.emit([CTRL_A]);
    }
    return { kind: 'taken' };
  }
}
