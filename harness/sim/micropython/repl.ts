import type { MicroPython } from '@micropython/micropython-webassembly-pyscript/micropython.mjs';
import type { BoardProfile } from '../profile.js';
import type { VmBoot } from '../protocol.js';
import { createBoardVm, quecPythonBanner } from './board-vm.js';
import { ReplModeTracker } from './prompts.js';
import { RawPaste } from './raw-paste.js';

const [CTRL_A, CTRL_D, LF, CR] = [0x01, 0x04, 0x0a, 0x0d];
/** The VM's own banner line starts so; the rest (version, date, "JS with Emscripten") is replaced. */
const VM_BANNER_START = 'MicroPython v';

export interface SimReplOptions {
  profile: BoardProfile;
  /** Bytes the REPL port sends to the host. */
  output: (bytes: Buffer) => void;
  /** `_qsim.call(name, limitMs, argsJson)`: the board's answer as JSON (see modules.ts). Synchronous. */
  bridge: (name: string, limitMs: number, argsJson: string) => string;
  /** Whether to negotiate raw-paste (else `R\x00`); defaults to the profile's `rawPaste`. */
  rawPaste?: boolean;
  /** Host folder of the board's filesystem (`<dir>/usr` is `/usr`); else `/usr` goes with the VM. */
  filesystemDir?: string;
  /** Moves host input still queued for this thread into `queueInput`, synchronously (Python reads stdin). */
  absorbPendingInput?: () => void;
  /** The last input message this thread has taken (see port-stdin.ts). */
  seenInputSeq?: () => number;
  /** Called when all queued input is processed, before the last output of it is sent. */
  onDrained?: () => void;
  /** Called around each byte the VM takes: while true, Python may run (a Ctrl-C must interrupt it). */
  onRunning?: (running: boolean) => void;
}

/**
 * The QuecPython REPL personality around one MicroPython VM: the banner rewritten as the board's,
 * raw-paste negotiated here (the VM's event-driven REPL spins forever on `\x05A\x01`), Ctrl-D at an
 * empty prompt soft-rebooting with `MPY: soft reboot` and a fresh VM (module state gone, the board's
 * RTC kept because it lives in the board worker). Input is processed strictly one byte at a time;
 * the VM's char function is synchronous in this build (no asyncify), so Python that runs blocks the
 * calling thread until it finishes: run this in its own worker thread.
 */
export class SimRepl {
  private vm: MicroPython | undefined;
  private readonly queue: number[] = [];
  private draining: Promise<void> | undefined;
  private readonly modeTracker = new ReplModeTracker();
  /** In raw mode, nothing typed since the last `>` prompt: where a raw-paste request may start. */
  private rawLineEmpty = false;
  private readonly paste: RawPaste;
  /** Output bytes to drop (the VM's `OK`, which raw-paste does not print). */
  private swallow = '';
  /** Held output that may be the start of the VM's banner. */
  private held = '';
  private bannerLine: string | undefined;
  /** While booting in raw mode the VM's banner must not show. */
  private muted = false;
  private readonly outBuffer: number[] = [];
  /** The VM's previous output byte, to tell a bare `\n` from `\r\n`. */
  private lastVmByte = 0;

  constructor(private readonly options: SimReplOptions) {
    this.paste = new RawPaste((bytes) => this.emitBytes(bytes), options.rawPaste ?? options.profile.rawPaste);
  }

  private get mode(): 'friendly' | 'raw' {
    return this.modeTracker.mode;
  }

  /** Power-on (noise lines, then the banner), soft reboot (`MPY: soft reboot`, then the banner) or a silent resume. */
  async boot(kind: VmBoot = 'power-on'): Promise<void> {
    if (kind === 'resume-raw' || kind === 'resume-friendly') {
      this.muted = true;
      await this.createVm();
      this.vm?.replInit();
      if (kind === 'resume-raw') this.feedVm(CTRL_A);
      this.muted = false;
      this.modeTracker.reset(kind === 'resume-raw' ? 'raw' : 'friendly');
      this.rawLineEmpty = kind === 'resume-raw';
      return;
    }
    if (kind === 'power-on') {
      for (const line of this.options.profile.bootNoise) this.emitText(`${line}\r\n`);
    } else {
      this.emitText('MPY: soft reboot\r\n');
    }
    await this.createVm();
    this.modeTracker.reset('friendly');
    this.vm?.replInit();
    this.flushHeld();
    this.flush();
  }

  /** Queues host bytes and processes them in order; resolves when the queue is empty. */
  input(bytes: Uint8Array): Promise<void> {
    for (const byte of bytes) this.queue.push(byte);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  /** Host bytes that came while Python runs and reads stdin: queued behind the others, no drain started. */
  queueInput(bytes: Uint8Array): void {
    for (const byte of bytes) this.queue.push(byte);
  }

  private async drain(): Promise<void> {
    for (let byte = this.queue.shift(); byte !== undefined; byte = this.queue.shift()) {
      const softReboot = this.processByte(byte);
      if (softReboot) await this.softReboot();
    }
    this.options.onDrained?.();
    this.flushHeld();
    this.flush();
  }

  /** One host byte; true when the VM asked for a soft reboot. */
  private processByte(byte: number): boolean {
    if (this.paste.active) return this.processPasteByte(byte);
    if (this.mode === 'raw' && this.rawLineEmpty && this.paste.start(byte)) return false;
    if (this.mode === 'raw') this.rawLineEmpty = false;
    return this.feedVm(byte);
  }

  private processPasteByte(byte: number): boolean {
    const step = this.paste.take(byte);
    switch (step.kind) {
      case 'taken':
        // No flush: the drain's end sends the answer once the VM counts as idle, for a host answering at once.
        return false;
      case 'typed':
        this.rawLineEmpty = false;
        return step.bytes.reduce((reboot, b) => this.feedVm(b) || reboot, false);
      case 'interrupted':
        this.rawLineEmpty = true;
        return false;
      case 'run': {
        // The acknowledgement goes before the code runs; the VM's "OK" is not printed in raw-paste.
        this.flush();
        this.rawLineEmpty = false;
        const reboot = step.code.reduce((soFar, b) => this.feedVm(b) || soFar, false);
        this.swallow = 'OK';
        return this.feedVm(CTRL_D) || reboot;
      }
    }
  }

  private feedVm(byte: number): boolean {
    const vm = this.vm;
    if (!vm) return false;
    this.options.onRunning?.(true);
    try {
      return vm.replProcessChar(byte) !== 0;
    } finally {
      this.options.onRunning?.(false);
    }
  }

  private async softReboot(): Promise<void> {
    const wasRaw = this.mode === 'raw';
    this.paste.reset();
    this.swallow = '';
    this.flushHeld();
    this.emitText('MPY: soft reboot\r\n');
    await this.createVm();
    this.modeTracker.reset('friendly');
    if (wasRaw) {
      // A soft reboot in raw mode comes back at the raw prompt, without a banner (as mpremote expects).
      this.muted = true;
      this.vm?.replInit();
      this.flushHeld();
      this.muted = false;
      this.feedVm(CTRL_A);
    } else {
      this.vm?.replInit();
    }
    this.flushHeld();
    this.flush();
  }

  private async createVm(): Promise<void> {
    const bridge = (name: string, limitMs: number, argsJson: string): string => {
      // The board must see everything printed before the call (a sleep, an input() prompt).
      this.flushHeld();
      this.flush();
      return this.options.bridge(name, limitMs, argsJson);
    };
    this.vm = await createBoardVm({
      output: (byte) => this.fromVm(byte),
      bridge,
      stdin: {
        takeQueued: (max) => this.queue.splice(0, max),
        queue: (bytes) => this.queueInput(bytes),
        absorbPending: () => this.options.absorbPendingInput?.(),
        seenInputSeq: () => this.options.seenInputSeq?.() ?? 0,
      },
      filesystemDir: this.options.filesystemDir,
    });
  }

  /** One byte of VM output, through the banner rewrite, the OK swallow and the mode tracker. */
  private fromVm(byte: number): void {
    if (this.muted) return;
    // A board's stdout is cooked at the friendly prompt: a bare \n would staircase a terminal. Not
    // while kbd_intr is off: that is mpremote mount's binary protocol on the same port.
    if (byte === LF && this.lastVmByte !== CR && this.mode === 'friendly' && this.vm?._module._mp_hal_get_interrupt_char() !== -1) {
      this.fromVmByte(CR);
    }
    this.lastVmByte = byte;
    this.fromVmByte(byte);
  }

  private fromVmByte(byte: number): void {
    const char = String.fromCharCode(byte);
    if (this.swallow) {
      const swallowed = char === this.swallow[0];
      this.swallow = swallowed ? this.swallow.slice(1) : '';
      if (swallowed) return;
    }
    if (this.bannerLine !== undefined) {
      this.bannerLine += char;
      if (this.bannerLine.endsWith('\r\n')) {
        this.bannerLine = undefined;
        this.emitText(`${quecPythonBanner(this.options.profile)}\r\n`);
      }
      return;
    }
    this.held += char;
    if (this.held === VM_BANNER_START) {
      this.held = '';
      this.bannerLine = VM_BANNER_START;
      return;
    }
    if (VM_BANNER_START.startsWith(this.held)) return;
    this.flushHeld();
  }

  private flushHeld(): void {
    const text = this.held;
    this.held = '';
    if (text) this.emitText(text);
  }

  private emitText(text: string): void {
    this.emitBytes(Buffer.from(text, 'latin1'));
  }

  private emitBytes(bytes: Iterable<number>): void {
    for (const byte of bytes) {
      this.outBuffer.push(byte);
      this.track(String.fromCharCode(byte));
      if (byte === 0x0a) this.flush();
      // Plain raw mode prints `OK`, then runs the code: the host must see the OK now, even if the code
      // never returns (a VM that a Ctrl-C cannot stop is replaced, and its unsent output lost).
      else if (byte === 0x4b && this.mode === 'raw' && this.outBuffer[this.outBuffer.length - 2] === 0x4f) this.flush();
    }
    if (this.outBuffer.length >= 1024) this.flush();
  }

  /** Follows the REPL's mode from what it prints. */
  private track(char: string): void {
    if (this.modeTracker.feed(char) === 'raw-prompt') this.rawLineEmpty = true;
  }

  flush(): void {
    if (this.outBuffer.length === 0) return;
    const bytes = Buffer.from(this.outBuffer);
    this.outBuffer.length = 0;
    this.options.output(bytes);
  }
}
