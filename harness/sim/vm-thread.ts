/**
 * The board worker's side of one MicroPython VM thread (micropython/vm-worker.ts): host bytes in,
 * REPL output out, and the shared-memory bridge the VM blocks on while the board answers its calls.
 * Python that runs blocks its own thread only, so the board worker stays free to answer the AT port
 * and to see a Ctrl-C while Python runs. What the calls mean is the host's business (bridge.ts).
 */
import { Worker } from 'node:worker_threads';
import { BridgeError } from './bridge.js';
import { ReplModeTracker } from './micropython/prompts.js';
import type { BoardProfile } from './profile.js';
import { BRIDGE, type FromVm, type VmBoot, type VmWorkerData } from './protocol.js';
import { ReplStdin } from './repl-stdin.js';

const CTRL_C = 0x03;
/** Deadline for a VM thread to load MicroPython and print its banner. */
const VM_START_DEADLINE_MS = 10_000;
/**
 * How long Python may go on after a Ctrl-C before the board gives up on it stopping by itself and
 * replaces the VM (see VmThread.input).
 */
const STUCK_AFTER_CTRL_C_MS = 500;

/** What a VM thread needs from the board around it. */
export interface VmHost {
  /** The profile the VM boots with (banner, modules). */
  readonly profile: BoardProfile;
  readonly vmWorkerPath: string;
  /** MicroPython's wasm, compiled once by the board host; without it the VM thread compiles its own. */
  readonly vmModule?: WebAssembly.Module;
  /** Host folder of the board's filesystem, kept across VMs. */
  readonly filesystemDir?: string;
  /** The board RTC the VM thread reads `utime.localtime()` from (shared-rtc.ts). */
  readonly rtc?: SharedArrayBuffer;
  log(message: string): void;
  /** The REPL port's output. */
  output(bytes: Uint8Array): void;
  /** Answers a bridge call (other than `stdin`, `kbd_intr`); a BridgeError names Python's exception. */
  call(name: string, args: unknown[], signal: AbortSignal): Promise<unknown>;
  /** Whether a Ctrl-C may cut the call short. */
  isInterruptible(name: string): boolean;
}

interface PendingCall {
  id: number;
  interruptible: boolean;
  abort: AbortController;
}

/** A Ctrl-C Python has not taken yet, and what the host sent after it. */
interface UnansweredCtrlC {
  timer: NodeJS.Timeout;
  /** The last input message sent before the Ctrl-C: the code it interrupts came with it or earlier. */
  afterSeq: number;
  /** Bytes from the Ctrl-C on (without it), for the replacement VM's REPL. */
  replay: Buffer[];
}

export class VmThread {
  readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly payload: Uint8Array;
  private sentSeq = 0;
  private idleSeq = 0;
  private pending: PendingCall | undefined;
  /** A Ctrl-C arrived while Python was running and Python has not taken it yet. */
  private unanswered: UnansweredCtrlC | undefined;
  private isReady = false;
  /** The REPL's mode, followed from its output. */
  readonly replMode: ReplModeTracker;
  readonly ready: Promise<void>;
  stopped = false;
  /** Python reading the port (sys.stdin, input(), mpremote mount). */
  private readonly stdin = new ReplStdin();

  /** `onStuck`: a Ctrl-C did not stop Python; the thread is still running it. */
  constructor(
    private readonly host: VmHost,
    boot: VmBoot,
    private readonly onStuck: (thread: VmThread, replay: Buffer[]) => void,
  ) {
    this.replMode = new ReplModeTracker(boot === 'resume-raw' ? 'raw' : 'friendly');
    const bridge = new SharedArrayBuffer(BRIDGE.bytes);
    this.control = new Int32Array(bridge, 0, BRIDGE.controlInts);
    this.payload = new Uint8Array(bridge, BRIDGE.payloadOffset);
    const vmData: VmWorkerData = { profile: host.profile, bridge, boot, filesystemDir: host.filesystemDir, rtc: host.rtc, ...(host.vmModule && { vmModule: host.vmModule }) };
    this.worker = new Worker(host.vmWorkerPath, { workerData: vmData });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`MicroPython VM thread not ready within ${VM_START_DEADLINE_MS}ms`)),
        VM_START_DEADLINE_MS,
      );
      this.worker.on('message', (message: FromVm) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          this.isReady = true;
          resolve();
        } else if (message.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(message.message));
        }
        this.onMessage(message);
      });
      this.worker.on('error', (error) => {
        clearTimeout(timer);
        host.log(`MicroPython VM thread failed: ${error.message}`);
        reject(error);
      });
    });
    this.ready.catch(() => undefined);
  }

  /**
   * Whether a Ctrl-C now is an interrupt: `running` while the VM runs what was typed or a bridge call
   * is open (a board's UART takes Ctrl-C as the interrupt char then); `queued` while input the VM has
   * not reached yet may start Python; else `idle`, and Ctrl-C is a keystroke (a raw-paste ends on it).
   * Input before boot only waits.
   */
  private state(): 'running' | 'queued' | 'idle' {
    if (!this.isReady) return 'idle';
    if (this.pending !== undefined || Atomics.load(this.control, BRIDGE.running) === 1) return 'running';
    // The shared seq is ahead of the 'idle' message: it is stored before the output a host may answer.
    return this.sentSeq !== Math.max(this.idleSeq, Atomics.load(this.control, BRIDGE.idleSeq)) ? 'queued' : 'idle';
  }

  /**
   * Host bytes for the REPL. A Ctrl-C while Python runs interrupts it instead of reaching the REPL as
   * a keystroke: the sim's own waits (utime.sleep*, ntptime, checkNet, dataCall.activate) end at once
   * with KeyboardInterrupt, and so does the next call Python makes into the board (utime.time() in a
   * loop). Python spinning in pure code (`while True: pass`) cannot be reached: the VM has no
   * interrupt hook (this build has neither threads nor asyncify, and checks no shared memory). So if
   * Python still runs STUCK_AFTER_CTRL_C_MS after the Ctrl-C, the board worker replaces the VM
   * thread (onStuck): it prints what a board prints for the KeyboardInterrupt and starts a fresh VM at
   * the same prompt, which gets the bytes the host sent from the Ctrl-C on. LIMITS of that replacement:
   * all Python state is lost (variables, imports; the utime zone lives in the modem and stays),
   * output the code printed without a newline since the last flush is lost, utime.ticks_ms restarts,
   * the traceback always names `<stdin>` line 1, and code that would catch KeyboardInterrupt never
   * sees it. The RTC, the modem and the AT port are untouched.
   */
  input(bytes: Buffer): void {
    let forward = bytes;
    if (this.unanswered) this.unanswered.replay.push(bytes);
    const state = bytes.includes(CTRL_C) && !this.stdin.ctrlCIsData ? this.state() : 'idle';
    if (state !== 'idle') {
      // Queued input may only be keystrokes: the Ctrl-C goes with it, and interrupts what it starts.
      if (state === 'running') forward = Buffer.from([...bytes].filter((byte) => byte !== CTRL_C));
      if (!this.unanswered) {
        const ctrlC = bytes.indexOf(CTRL_C);
        const after = Buffer.concat([bytes.subarray(0, ctrlC), bytes.subarray(ctrlC + 1)]);
        const unanswered: UnansweredCtrlC = {
          afterSeq: this.sentSeq,
          replay: after.length > 0 ? [after] : [],
          timer: setTimeout(() => {
            if (this.unanswered !== unanswered || this.stopped) return;
            this.unanswered = undefined;
            if (this.idleSeq < unanswered.afterSeq) this.onStuck(this, unanswered.replay);
          }, STUCK_AFTER_CTRL_C_MS),
        };
        this.unanswered = unanswered;
      }
      if (this.pending?.interruptible) this.interrupt(this.pending);
    }
    forward = this.stdin.offer(forward);
    if (forward.length === 0) return;
    this.sentSeq += 1;
    this.worker.postMessage({ type: 'input', seq: this.sentSeq, bytes: forward });
  }

  stop(): Promise<number> {
    this.stopped = true;
    this.takeCtrlC();
    Atomics.store(this.control, BRIDGE.stop, 1);
    Atomics.notify(this.control, BRIDGE.replyId);
    this.pending?.abort.abort();
    return this.worker.terminate();
  }

  private onMessage(message: FromVm): void {
    if (this.stopped) return;
    switch (message.type) {
      case 'output':
        this.replMode.feed(Buffer.from(message.bytes).toString('latin1'));
        this.host.output(message.bytes);
        break;
      case 'idle':
        this.idleSeq = message.seq;
        if (this.idleSeq === this.sentSeq) this.stdin.reset();
        // The code the Ctrl-C was meant for has ended (by itself or with the KeyboardInterrupt):
        // as on a board, a Ctrl-C still pending when a command ends is dropped.
        if (this.unanswered && this.idleSeq >= this.unanswered.afterSeq) this.takeCtrlC();
        break;
      case 'bridge':
        void this.answer(message.id, message.name, message.args);
        break;
      case 'failed':
        this.host.log(message.message);
        break;
      case 'ready':
        break;
    }
  }

  private async answer(id: number, name: string, argsJson: string): Promise<void> {
    const interruptible = this.host.isInterruptible(name);
    const call: PendingCall = { id, interruptible, abort: new AbortController() };
    this.pending = call;
    if (this.unanswered) {
      // Python reached the board with a Ctrl-C pending: it takes it here.
      this.interrupt(call);
      return;
    }
    let reply: object;
    try {
      const args = JSON.parse(argsJson) as unknown[];
      const stdinCall = name === 'stdin' || name === 'kbd_intr' ? name : undefined;
      reply = { v: stdinCall ? await this.stdin.call(stdinCall, args, call.abort.signal, this.sentSeq) : await this.host.call(name, args, call.abort.signal) };
    } catch (error) {
      const kind = error instanceof BridgeError ? error.kind : 'OSError';
      reply = { e: [kind, error instanceof Error ? error.message : String(error)] };
    }
    if (this.pending !== call) return;
    this.pending = undefined;
    this.reply(id, reply);
  }

  private takeCtrlC(): void {
    if (this.unanswered) clearTimeout(this.unanswered.timer);
    this.unanswered = undefined;
  }

  private interrupt(call: PendingCall): void {
    this.takeCtrlC();
    this.pending = undefined;
    call.abort.abort();
    this.reply(call.id, { i: 1 });
  }

  private reply(id: number, answer: object): void {
    if (this.stopped) return;
    let bytes = Buffer.from(JSON.stringify(answer), 'utf8');
    if (bytes.length > this.payload.length) {
      bytes = Buffer.from(JSON.stringify({ e: ['OSError', `sim bridge: answer to call ${id} too large`] }), 'utf8');
    }
    this.payload.set(bytes);
    Atomics.store(this.control, BRIDGE.replyLength, bytes.length);
    Atomics.store(this.control, BRIDGE.replyId, id);
    Atomics.notify(this.control, BRIDGE.replyId);
  }
}
