/**
 * The VM thread of a simulated board: one MicroPython VM behind the QuecPython REPL personality.
 * Started by the board worker (harness/sim/worker.ts), which owns the modem; Python reaches the
 * modem through `_qsim.call`, which posts the request to the board worker and blocks this thread
 * with Atomics.wait until the answer lands in the shared buffer. Blocking is the only way: this
 * build of the VM has no asyncify, so Python cannot yield to an event loop (measured: time.sleep_ms
 * busy-waits and timers never fire while it runs).
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { BRIDGE, type FromVm, type ToVm, type VmWorkerData } from '../protocol.js';
import { useCompiledWasm } from './board-vm.js';
import { SimRepl } from './repl.js';
import { monoMs, SharedRtc } from '../shared-rtc.js';

/** How often a blocked bridge call wakes to check the stop flag and its deadline. */
const WAIT_SLICE_MS = 100;
/** Beyond a call's own limit, how long to wait for the board worker before failing the call. */
const BRIDGE_GRACE_MS = 5000;

const port = parentPort;
if (!port) throw new Error('harness/sim/micropython/vm-worker.js must run as a worker thread');
const data = workerData as VmWorkerData;
const control = new Int32Array(data.bridge, 0, BRIDGE.controlInts);
const payload = new Uint8Array(data.bridge, BRIDGE.payloadOffset);
const vmStartedMs = performance.now();
useCompiledWasm(data.vmModule);
let lastCallId = 0;

function post(message: FromVm): void {
  port?.postMessage(message);
}

const rtc = data.rtc ? new SharedRtc(data.rtc) : undefined;

/**
 * A loop polling the RTC gets a fresh reading at most this often. utime.ticks_ms() counts whole ms, so
 * polling faster learns nothing more about an edge, while a loop spinning flat out for up to a second per
 * edge-timed reading is host CPU on every simulated board (a rig's boards all spin at the same edge).
 * A real board's interpreted loop takes tens of µs a pass; this one takes about 0.2 ms, and sleeps
 * most of it, which a loaded host also schedules more promptly than a spinning thread.
 */
const RTC_POLL_INTERVAL_MS = 0.2;
/**
 * A read this soon after the last one is a loop that does nothing but poll. Until the second changes
 * it can only see the same reading, so such a read sleeps half the way to the RTC's next second
 * (a clock set wakes it: SharedRtc.sleepUnlessChanged), and once that is within EDGE_STEP_MS, until
 * just past it: a dozen passes per second where a board's loop makes thousands. A loop's width at
 * the edge is then about the last step and a wake-up, as a real board's is about two passes, and a
 * rig's boards, whose RTCs a shared NTP server set within ms of each other, wake about twice at their
 * edge instead of all polling every 0.2 ms through its last 20 ms on the same cores. LIMIT: Python
 * that counts its passes while polling the clock sees few and long ones.
 */
const TIGHT_POLL_MS = 1;
const EDGE_STEP_MS = 0.3;
/** How far past the edge the last step wakes, so the read it makes is of the new second. */
const PAST_EDGE_MS = 0.02;
/** ...at most this long a pass: a clock that stopped or crawls must still let the loop's own deadline end it. */
const MAX_POLL_SLEEP_MS = 100;
let lastRtcReadMs = -Infinity;
/** What the profile's edgeStall waits on: nothing ever notifies it. */
const stallCell = new Int32Array(new SharedArrayBuffer(4));
let lastRtcSecond: number | undefined;

function pacedRtcRead(rtc: SharedRtc): ReturnType<SharedRtc['localtime']> {
  const nowMonoMs = monoMs();
  const sinceLastMs = nowMonoMs - lastRtcReadMs;
  let waitMs = RTC_POLL_INTERVAL_MS - sinceLastMs;
  const now = rtc.secondAndNext(nowMonoMs);
  // Not when the second changed since the last read: the loop must see that now, not a wait later.
  if (sinceLastMs < TIGHT_POLL_MS && now && now.second === lastRtcSecond) {
    const stepMs = now.toNextMs > EDGE_STEP_MS ? now.toNextMs / 2 : now.toNextMs + PAST_EDGE_MS;
    waitMs = Math.max(waitMs, Math.min(stepMs, MAX_POLL_SLEEP_MS));
  }
  // The wait comes before the read, so the reading is as fresh as the moment it is returned.
  if (waitMs > 0) rtc.sleepUnlessChanged(waitMs);
  lastRtcReadMs = monoMs();
  const secondBefore = lastRtcSecond;
  lastRtcSecond = rtc.secondAndNext(lastRtcReadMs)?.second;
  const fields = rtc.localtime(lastRtcReadMs);
  // The profile's edgeStall: the board busy at its second tick (a sleep, not a spin: the host's CPU is the rig's).
  if (data.profile.edgeStall > 0 && secondBefore !== undefined && lastRtcSecond !== secondBefore) Atomics.wait(stallCell, 0, 0, data.profile.edgeStall);
  return fields;
}

function localAnswer(name: string, argsJson: string): string | undefined {
  // Tick counters need no modem: answered here, without a round trip. They run from the board's own
  // system timer (the profile's ticksDriftPpm), not from the RTC (see profile.ts). localtime() of now
  // reads the RTC the board worker publishes, in microseconds as a real board does.
  if (name === 'localtime' && argsJson === '[null]' && rtc) {
    const fields = pacedRtcRead(rtc);
    if (fields) return JSON.stringify({ v: fields });
  }
  const ticksMs = data.profile.ticksStartMs + (performance.now() - vmStartedMs) * (1 + data.profile.ticksDriftPpm / 1e6);
  if (name === 'ticks_ms') return JSON.stringify({ v: Math.floor(ticksMs) % 0x40000000 });
  if (name === 'ticks_us') return JSON.stringify({ v: Math.floor(ticksMs * 1000) % 0x40000000 });
  return undefined;
}

function bridge(name: string, limitMs: number, argsJson: string): string {
  const local = localAnswer(name, argsJson);
  if (local !== undefined) return local;
  const id = ++lastCallId;
  post({ type: 'bridge', id, name, limitMs, args: argsJson });
  const deadlineMs = performance.now() + limitMs + BRIDGE_GRACE_MS;
  for (;;) {
    const answered = Atomics.load(control, BRIDGE.replyId);
    if (answered === id) break;
    if (Atomics.load(control, BRIDGE.stop) === 1) return JSON.stringify({ e: ['OSError', 'board is shutting down'] });
    if (performance.now() > deadlineMs) {
      return JSON.stringify({ e: ['OSError', `sim bridge: no answer to ${name} within ${limitMs + BRIDGE_GRACE_MS}ms`] });
    }
    Atomics.wait(control, BRIDGE.replyId, answered, WAIT_SLICE_MS);
  }
  const length = Atomics.load(control, BRIDGE.replyLength);
  return Buffer.from(payload.subarray(0, length)).toString('utf8');
}

/** The last input message Python's stdin took before its turn (see absorbPendingInput). */
let absorbedSeq = 0;
/** The input message being processed. */
let currentSeq = 0;
/**
 * Input messages delivered to this thread but not yet handed to the REPL: Node dispatches a batch of
 * messages at once, so while Python runs the later ones of its batch wait here, not on the port.
 */
const received: Array<Extract<ToVm, { type: 'input' }>> = [];

function absorb(message: ToVm): void {
  if (message.type !== 'input') return;
  repl.queueInput(message.bytes);
  absorbedSeq = Math.max(absorbedSeq, message.seq);
}

const repl: SimRepl = new SimRepl({
  profile: data.profile,
  output: (bytes) => post({ type: 'output', bytes }),
  bridge,
  filesystemDir: data.filesystemDir,
  seenInputSeq: () => Math.max(currentSeq, absorbedSeq),
  // Before the last output goes: a host answering it at once must find the VM idle (vm-thread.ts busy).
  onDrained: () => Atomics.store(control, BRIDGE.idleSeq, Math.max(currentSeq, absorbedSeq)),
  onRunning: (running) => Atomics.store(control, BRIDGE.running, running ? 1 : 0),
  absorbPendingInput: () => {
    // Python blocks this thread while it reads stdin, so host bytes that came meanwhile are taken here,
    // in order (those dispatched already, then those still on the port); they count as processed when
    // the input that runs Python is.
    for (const message of received.splice(0)) absorb(message);
    for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) absorb(next.message as ToVm);
  },
});

const booted = repl.boot(data.boot);
booted.then(
  () => post({ type: 'ready' }),
  (error: unknown) => post({ type: 'failed', message: `MicroPython VM did not start: ${String(error)}` }),
);

async function processNextInput(): Promise<void> {
  const message = received.shift();
  // Taken already by Python's stdin, and acknowledged with the input that ran it.
  if (!message) return;
  currentSeq = Math.max(currentSeq, message.seq);
  await repl.input(message.bytes);
  post({ type: 'idle', seq: Math.max(message.seq, absorbedSeq) });
}

// Input is handed over one message at a time, in order, and what arrives while the VM loads waits
// for it: after a VM was replaced (see worker.ts) the host may already be typing at the prompt the
// board worker printed.
let inputs: Promise<unknown> = booted.catch(() => undefined);
port.on('message', (message: ToVm) => {
  if (message.type === 'input') {
    received.push(message);
    inputs = inputs
      .then(processNextInput)
      .catch((error: unknown) => post({ type: 'failed', message: `REPL input failed: ${String(error)}` }));
  }
});
