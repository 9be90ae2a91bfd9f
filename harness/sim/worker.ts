/**
 * The board worker of a simulated Quectel board: the ModemModel both ports share, the AT port (from
 * harness/sim/at/port.ts), fault injection and output shaping, and the bridge that answers the
 * QuecPython modules' calls. The MicroPython VM runs in a thread of its own (micropython/vm-worker.ts)
 * because Python that runs blocks its thread; this thread's event loop stays free, so the AT port
 * answers, NTP queries go out and a Ctrl-C on the REPL is seen while Python code is running.
 *
 * Each board gets its own worker (and so its own JS realm): two VMs in one realm break each other's
 * JS modules.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { createAtPort } from './at/port.js';
import { DEFAULT_GARBLE_SEED, Garbler, parseFault, type Fault } from './faults.js';
import { FRIENDLY_PROMPT, KEYBOARD_INTERRUPT_TRACEBACK, RAW_EXEC_END, ReplModeTracker } from './micropython/prompts.js';
import { defaultFaults, ModemError, ModemModel } from './modem.js';
import { firmwareNtpQuery, ntptimeSetFrom } from './ntp.js';
import { NetBridge } from './net-bridge.js';
import {
  BRIDGE,
  SIM_PORTS,
  type BoardWorkerData,
  type ControlOp,
  type FromBoard,
  type FromVm,
  type SimPort,
  type ToBoard,
  type VmBoot,
  type VmWorkerData,
} from './protocol.js';
import { ReplStdin } from './repl-stdin.js';
import type { SimServices } from './services.js';
import { sleep } from '../core/sleep.js';

const CTRL_C = 0x03;
/** Deadline for a VM thread to load MicroPython and print its banner. */
const VM_START_DEADLINE_MS = 10_000;
/** After AT+CFUN=1,1 answers OK, the module takes a moment before its ports drop. */
const REBOOT_DROP_AFTER_MS = 100;
/** How long the `usb-disconnect` fault keeps the ports away when given no duration. */
const USB_DISCONNECT_DEFAULT_MS = 2000;
/** checkNet polls the modem this often while it waits. */
const NET_POLL_MS = 50;
/**
 * How long Python may go on after a Ctrl-C before the board gives up on it stopping by itself and
 * replaces the VM (see VmThread.input).
 */
const STUCK_AFTER_CTRL_C_MS = 500;
/** Bridge calls a Ctrl-C from the host may cut short (everything that waits). */
const INTERRUPTIBLE = new Set(['sleep', 'ntp_settime', 'wait_net', 'datacall_activate', 'stdin']);

const port = parentPort;
if (!port) throw new Error('harness/sim/worker.js must run as a worker thread');
const data = workerData as BoardWorkerData;
const profile = {
  ...data.profile,
  hosts: { ...data.profile.hosts, ...data.hosts },
  clockOffset: data.clockOffsetMs ?? data.profile.clockOffset,
};
const modem = new ModemModel(profile);
const netBridge = new NetBridge(modem, (message) => log(message));
modem.faults.replRefused = profile.replProtected;

function post(message: FromBoard): void {
  port?.postMessage(message);
}

function log(message: string): void {
  post({ type: 'log', message });
}

// ---------------------------------------------------------------------------------------------
// Ports and output shaping

let portsUp = false;
let closing = false;
const slowQueue: Array<{ port: SimPort; bytes: Buffer }> = [];
let slowPumping = false;
/** One per port while `garbled-output` is in force, so each port's corruption depends only on its own bytes. */
let garblers: Record<SimPort, Garbler> | undefined;

function setPortsUp(up: boolean): void {
  if (portsUp === up) return;
  portsUp = up;
  if (!up) slowQueue.length = 0;
  for (const simPort of SIM_PORTS) post({ type: 'port', port: simPort, up });
}

function emit(simPort: SimPort, bytes: Uint8Array | string): void {
  if (!portsUp || closing) return;
  const text = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
  const out = garblers ? garblers[simPort].garble(text) : text;
  if (out.length === 0) return;
  if (modem.faults.slowOutputMs > 0 || slowPumping) {
    slowQueue.push({ port: simPort, bytes: out });
    void pumpSlowOutput();
    return;
  }
  post({ type: 'output', port: simPort, bytes: out });
}

async function pumpSlowOutput(): Promise<void> {
  if (slowPumping) return;
  slowPumping = true;
  try {
    for (let chunk = slowQueue.shift(); chunk; chunk = slowQueue.shift()) {
      await sleep(modem.faults.slowOutputMs);
      if (portsUp) post({ type: 'output', port: chunk.port, bytes: chunk.bytes });
    }
  } finally {
    slowPumping = false;
  }
}


// ---------------------------------------------------------------------------------------------
// Services for the AT port and the bridge

const services: SimServices = {
  ntpQuery: (host, timeoutMs) => firmwareNtpQuery(modem, host, timeoutMs),
  ntpQueryUtcMs: async (host, timeoutMs) => {
    const result = await firmwareNtpQuery(modem, host, timeoutMs);
    if (!result.ok) throw new Error(result.reason);
    return result.unixMs;
  },
  reboot: () => void hardReboot(),
  log,
};

const at = createAtPort(modem, (bytes) => emit('at', bytes), services);

// ---------------------------------------------------------------------------------------------
// The VM thread

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

class VmThread {
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
    boot: VmBoot,
    private readonly onStuck: (thread: VmThread, replay: Buffer[]) => void,
  ) {
    this.replMode = new ReplModeTracker(boot === 'resume-raw' ? 'raw' : 'friendly');
    const bridge = new SharedArrayBuffer(BRIDGE.bytes);
    this.control = new Int32Array(bridge, 0, 4);
    this.payload = new Uint8Array(bridge, BRIDGE.payloadOffset);
    const vmData: VmWorkerData = { profile, bridge, boot, filesystemDir: data.filesystemDir };
    this.worker = new Worker(data.vmWorkerPath, { workerData: vmData });
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
        log(`MicroPython VM thread failed: ${error.message}`);
        reject(error);
      });
    });
    this.ready.catch(() => undefined);
  }

  /** Python is running (input not yet processed, or a bridge call open). Input before boot only waits. */
  get busy(): boolean {
    return this.isReady && (this.sentSeq !== this.idleSeq || this.pending !== undefined);
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
    if (this.busy && bytes.includes(CTRL_C) && !this.stdin.ctrlCIsData) {
      forward = Buffer.from([...bytes].filter((byte) => byte !== CTRL_C));
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
        emit('repl', message.bytes);
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
        log(message.message);
        break;
      case 'ready':
        break;
    }
  }

  private async answer(id: number, name: string, argsJson: string): Promise<void> {
    const interruptible = INTERRUPTIBLE.has(name) || NetBridge.INTERRUPTIBLE.has(name);
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
      reply = { v: stdinCall ? await this.stdin.call(stdinCall, args, call.abort.signal, this.sentSeq) : await bridgeCall(name, args, call.abort.signal) };
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

let vm: VmThread | undefined;

async function startVm(boot: VmBoot): Promise<void> {
  const thread = new VmThread(boot, replaceStuckVm);
  vm = thread;
  await thread.ready;
}

/**
 * A Ctrl-C did not stop Python (see VmThread.input): end the VM thread, print what a board prints
 * when a Ctrl-C stops a command (in raw mode inside the exec's framing: stdout ended by `\x04`, the
 * traceback, `\x04>`; in friendly mode the traceback and `>>> `) and start a fresh VM at that prompt,
 * handing it what the host sent from the Ctrl-C on. The RTC and the modem stay as they are.
 */
function replaceStuckVm(thread: VmThread, replay: Buffer[]): void {
  if (vm !== thread || closing) return;
  const raw = thread.replMode.mode === 'raw';
  log('Ctrl-C did not stop Python (no call into the board): the MicroPython VM is replaced, Python state is lost');
  void thread.stop();
  emit('repl', raw ? `\x04${KEYBOARD_INTERRUPT_TRACEBACK}${RAW_EXEC_END}` : `${KEYBOARD_INTERRUPT_TRACEBACK}${FRIENDLY_PROMPT}`);
  const fresh = new VmThread(raw ? 'resume-raw' : 'resume-friendly', replaceStuckVm);
  vm = fresh;
  for (const bytes of replay) fresh.input(bytes);
  fresh.ready.catch((error: unknown) => log(`MicroPython VM did not restart after Ctrl-C: ${error instanceof Error ? error.message : String(error)}`));
}

async function stopVm(): Promise<void> {
  const thread = vm;
  vm = undefined;
  await thread?.stop();
}

// ---------------------------------------------------------------------------------------------
// Bridge calls: what the QuecPython modules ask of the board

class BridgeError extends Error {
  constructor(
    readonly kind: 'ValueError' | 'TypeError' | 'OSError',
    message: string,
  ) {
    super(message);
  }
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new BridgeError('TypeError', `${what} must be an int`);
  return value;
}

/** Seconds from 1970-01-01 to the epoch utime counts from (profile.epoch). */
const EPOCH_S = profile.epoch === 2000 ? Date.UTC(2000, 0, 1) / 1000 : 0;

/** Board RTC reading in whole seconds since the board's epoch (as if UTC), the base of utime. */
function rtcSeconds(): number {
  return Math.floor(modem.rtcReadingMs() / 1000) - EPOCH_S;
}

/** `(year, month, mday, hour, minute, second, weekday 0=Monday, yearday)` of a seconds count since the board's epoch. */
function timeFields(seconds: number): number[] {
  const date = new Date((seconds + EPOCH_S) * 1000);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  const day = date.getUTCDate();
  const yearday = Math.floor((Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
  return [year, month + 1, day, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), (date.getUTCDay() + 6) % 7, yearday];
}

const SIM_STATUS: Record<ModemModel['sim'], number> = { absent: 0, ready: 1, pin: 2 };
const REG_STAT: Record<ModemModel['network'], number> = { registered: 1, roaming: 5, searching: 2, denied: 3 };
const MAX_PROFILE_ID = 7;

function contextInfo(profileId: number, ipType: number): unknown {
  if (profileId < 1 || profileId > MAX_PROFILE_ID) return -1;
  const context = modem.contexts.get(profileId);
  const active = context?.active ?? false;
  const dns = profile.dns;
  const v4 = active ? [1, 0, context?.address ?? '0.0.0.0', dns[0] ?? '0.0.0.0', dns[1] ?? '0.0.0.0'] : [0, 0, '0.0.0.0', '0.0.0.0', '0.0.0.0'];
  if (ipType === 2) return [profileId, ipType, v4, [0, 0, '::', '::', '::']];
  return [profileId, ipType, v4];
}

async function bridgeCall(name: string, args: unknown[], signal: AbortSignal): Promise<unknown> {
  const zoneS = modem.utimeZoneHours * 3600;
  switch (name) {
    case 'time':
      return rtcSeconds();
    case 'localtime':
      return timeFields((args[0] === null || args[0] === undefined ? rtcSeconds() : int(args[0], 'secs')) + zoneS);
    case 'gmtime':
      return timeFields(args[0] === null || args[0] === undefined ? rtcSeconds() : int(args[0], 'secs'));
    case 'mktime': {
      const fields = args[0];
      if (!Array.isArray(fields) || fields.length < 6) throw new BridgeError('TypeError', 'mktime needs a tuple of at least 6 ints');
      const [year, month, day, hour, minute, second] = fields.map((field, i) => int(field, `field ${i}`)) as number[];
      return Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second) / 1000 - zoneS - EPOCH_S;
    }
    case 'sleep':
      await sleep(Math.max(0, Number(args[0]) || 0), signal);
      return null;
    case 'set_tz':
      modem.utimeZoneHours = int(args[0], 'offset');
      return null;
    case 'get_tz':
      return modem.utimeZoneHours;
    case 'ntp_settime': {
      const host = String(args[0]);
      const zoneHours = int(args[1], 'timezone');
      const timeoutMs = args[2] === undefined || args[2] === null ? profile.ntpTimeout : int(args[2], 'timeout');
      const failure = await ntptimeSetFrom(modem, host, { zoneHours, timeoutMs, strictReply: profile.ntptime === 'unirtos', signal });
      if (failure !== undefined) log(`ntptime: ${failure}`);
      return failure === undefined;
    }
    case 'ntptime_generation':
      return profile.ntptime;
    case 'wait_net': {
      const timeoutMs = Math.max(0, Number(args[0]) || 0) * 1000;
      const startedMs = performance.now();
      for (;;) {
        if (modem.sim !== 'ready') return [1, SIM_STATUS[modem.sim]];
        const callUp = [...modem.contexts.values()].some((context) => context.active);
        if (modem.registered && callUp) return [3, 1];
        if (performance.now() - startedMs >= timeoutMs || signal.aborted) {
          return modem.registered ? [3, 0] : [2, REG_STAT[modem.network]];
        }
        await sleep(NET_POLL_MS, signal);
      }
    }
    case 'datacall_info':
      return contextInfo(int(args[0], 'profileID'), int(args[1], 'ipType'));
    case 'datacall_set': {
      const [profileId, ipType, apn, user, password, auth] = args;
      const id = int(profileId, 'profileID');
      const type = int(ipType, 'ipType');
      const authType = int(auth, 'authType');
      if (id < 1 || id > MAX_PROFILE_ID || type < 0 || type > 2 || authType < 0 || authType > 2) return -1;
      const context = modem.context(id);
      // QuecPython numbers IP types from 0 (IPv4); the modem model keeps AT+QICSGP's numbering (1 = IPv4).
      Object.assign(context, { ipType: type + 1, apn: String(apn), user: String(user), password: String(password), auth: authType });
      return 0;
    }
    case 'datacall_activate': {
      const id = int(args[0], 'profileID');
      try {
        await modem.activate(id);
        return 0;
      } catch (error) {
        log(`dataCall.activate(${id}): ${error instanceof ModemError ? error.message : String(error)}`);
        return -1;
      }
    }
    case 'datacall_deactivate':
      modem.deactivate(int(args[0], 'profileID'));
      return 0;
    case 'sim_status':
      return SIM_STATUS[modem.sim];
    case 'csq':
      return modem.sim !== 'ready' ? -1 : modem.registered ? modem.csq : 99;
    case 'identity':
      return { firmware: profile.firmware, imei: profile.imei, model: profile.model };
    case 'uname': {
      const q = profile.quecpython;
      return [
        `sysname=${q.sysname ?? profile.model}`,
        `nodename=${q.nodename ?? profile.product}`,
        `release=${q.release}`,
        `version=${q.unameVersion ?? `${q.version} on ${q.buildDate}`}`,
        `machine=${q.machine ?? `${profile.product} with QUECTEL`}`,
        `qpyver=${q.qpyver}`,
      ];
    }
    default:
      if (netBridge.handles(name)) return netBridge.call(name, args, signal);
      throw new BridgeError('OSError', `sim bridge: unknown call ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Power, reboot, USB

let generation = 0;

async function powerOn(): Promise<void> {
  const myGeneration = generation;
  at.reset();
  setPortsUp(true);
  emit('at', '\r\nRDY\r\n');
  await startVm('power-on');
  if (myGeneration !== generation) return;
  if (profile.autoDial && modem.registered) {
    // QuecPython dials profile 1 by itself after boot; the application note waits for it.
    modem.activate(1).catch((error: unknown) => log(`auto dial: ${error instanceof Error ? error.message : String(error)}`));
  }
}

async function hardReboot(): Promise<void> {
  if (closing) return;
  generation += 1;
  const myGeneration = generation;
  await sleep(REBOOT_DROP_AFTER_MS);
  setPortsUp(false);
  await stopVm();
  netBridge.closeAll();
  modem.powerCycle();
  at.reset();
  await sleep(profile.rebootDelay);
  if (closing || myGeneration !== generation) return;
  await powerOn().catch((error: unknown) => log(`reboot: ${error instanceof Error ? error.message : String(error)}`));
}

async function softReboot(): Promise<void> {
  await stopVm();
  netBridge.closeAll();
  await startVm('soft');
}

function applyFault(fault: Fault): void {
  switch (fault.name) {
    case 'no-sim':
      modem.sim = 'absent';
      dropAllCalls();
      break;
    case 'no-network':
      modem.network = 'searching';
      dropAllCalls();
      break;
    case 'dial-refused':
      modem.faults.dialRefused = true;
      break;
    case 'ntp-silent':
      modem.faults.ntpSilent = true;
      break;
    case 'clock-offset':
      modem.setClockOffsetMs(fault.value ?? 0);
      break;
    case 'clock-drift':
      modem.setDriftPpm(fault.value ?? 0);
      break;
    case 'slow-output':
      modem.faults.slowOutputMs = fault.value ?? 0;
      break;
    case 'garbled-output': {
      const rate = fault.value ?? 0;
      const { mode, seed } = fault.garble ?? { mode: 'mixed' as const, seed: DEFAULT_GARBLE_SEED };
      modem.faults.garbleRate = rate;
      // The AT port's stream gets a seed of its own, derived, so the two ports do not mirror each other.
      garblers = rate > 0 ? { repl: new Garbler(rate, mode, seed), at: new Garbler(rate, mode, (seed ^ 0x9e3779b9) >>> 0) } : undefined;
      break;
    }
    case 'repl-refuse':
      modem.faults.replRefused = true;
      break;
    case 'reboot':
      void hardReboot();
      break;
    case 'usb-disconnect': {
      setPortsUp(false);
      const timer = setTimeout(() => {
        if (!closing) setPortsUp(true);
      }, fault.value ?? USB_DISCONNECT_DEFAULT_MS);
      timer.unref();
      break;
    }
  }
}

function dropAllCalls(): void {
  for (const context of modem.contexts.values()) {
    if (context.active) modem.dropContext(context.cid);
  }
}

function clearFaults(): void {
  modem.sim = profile.sim;
  modem.network = profile.network;
  Object.assign(modem.faults, defaultFaults(), { replRefused: profile.replProtected });
  garblers = undefined;
  modem.setDriftPpm(profile.clockDriftPpm);
}

async function control(request: ControlOp): Promise<number | null> {
  switch (request.op) {
    case 'set-fault':
      applyFault(parseFault(request.name, request.value));
      return null;
    case 'clear-faults':
      clearFaults();
      return null;
    case 'step-clock':
      modem.stepClockMs(request.ms);
      return null;
    case 'set-clock-offset':
      modem.setClockOffsetMs(request.ms);
      return null;
    case 'read-rtc':
      return modem.rtcReadingMs();
    case 'reboot':
      if (request.kind === 'soft') await softReboot();
      else void hardReboot();
      return null;
    case 'unplug':
      setPortsUp(false);
      return null;
    case 'replug':
      setPortsUp(true);
      return null;
    case 'close':
      closing = true;
      generation += 1;
      setPortsUp(false);
      at.dispose();
      await stopVm();
      netBridge.closeAll();
      return null;
  }
}

function replInput(bytes: Buffer): void {
  if (modem.faults.replRefused) {
    emit('repl', 'REPL refuse\r\n');
    return;
  }
  vm?.input(bytes);
}

port.on('message', (message: ToBoard) => {
  if (message.type === 'input') {
    if (!portsUp || closing) return;
    const bytes = Buffer.from(message.bytes);
    if (message.port === 'at') at.receive(bytes);
    else replInput(bytes);
    return;
  }
  control(message.request).then(
    (value) => post({ type: 'reply', id: message.id, ok: true, value }),
    (error: unknown) => post({ type: 'reply', id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});

const startupFaults = data.faults.map((text) => parseFault(text));
for (const fault of startupFaults) if (fault.name !== 'reboot' && fault.name !== 'usb-disconnect') applyFault(fault);
powerOn().then(
  () => {
    post({ type: 'ready' });
    for (const fault of startupFaults) if (fault.name === 'reboot' || fault.name === 'usb-disconnect') applyFault(fault);
  },
  (error: unknown) => post({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
);
