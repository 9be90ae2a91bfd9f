/**
 * The board worker of a simulated Quectel board: it wires the parts together. The ModemModel both
 * ports share; the AT port (at/port.ts); output shaping (board-output.ts); power, reboots, USB and the
 * VM thread (power.ts, vm-thread.ts); the QuecPython bridge over the modem (bridge.ts); faults and
 * control requests (board-control.ts). The MicroPython VM runs in a thread of its own
 * (micropython/vm-worker.ts) because Python that runs blocks its thread; this thread's event loop
 * stays free, so the AT port answers, NTP queries go out and a Ctrl-C on the REPL is seen while
 * Python code is running.
 *
 * Each board gets its own worker (and so its own JS realm): two VMs in one realm break each other's
 * JS modules.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createAtPort } from './at/port.js';
import { BoardControl } from './board-control.js';
import { BoardOutput } from './board-output.js';
import { QuecPythonBridge } from './bridge.js';
import { parseFault } from './faults.js';
import { ModemModel } from './modem.js';
import { monoMs, SharedRtc } from './shared-rtc.js';
import { firmwareNtpQuery } from './ntp.js';
import { NetBridge } from './net-bridge.js';
import { BoardPower } from './power.js';
import type { BoardWorkerData, FromBoard, ToBoard } from './protocol.js';
import type { SimServices } from './services.js';

const port = parentPort;
if (!port) throw new Error('harness/sim/worker.js must run as a worker thread');
const data = workerData as BoardWorkerData;
const profile = {
  ...data.profile,
  hosts: { ...data.profile.hosts, ...data.hosts },
  clockOffset: data.clockOffsetMs ?? data.profile.clockOffset,
};
const modem = new ModemModel(profile);
modem.faults.replRefused = profile.replProtected;
// The VM thread reads the RTC from here (shared-rtc.ts); published on every change.
const sharedRtc = new SharedRtc();
const publishRtc = (): void =>
  sharedRtc.publish({ readingMs: modem.rtcReadingMs(), atMonoMs: monoMs(), driftPpm: modem.clockDriftPpm, zoneHours: modem.utimeZoneHours });
modem.on('rtc-changed', publishRtc);
publishRtc();

function post(message: FromBoard): void {
  port?.postMessage(message);
}

function log(message: string): void {
  post({ type: 'log', message });
}

const output = new BoardOutput(modem.faults, post);
const netBridge = new NetBridge(modem, log);
const bridge = new QuecPythonBridge(modem, profile, netBridge, log);
const services: SimServices = {
  ntpQuery: (host, timeoutMs) => firmwareNtpQuery(modem, host, timeoutMs),
  ntpQueryUtcMs: async (host, timeoutMs) => {
    const result = await firmwareNtpQuery(modem, host, timeoutMs);
    if (!result.ok) throw new Error(result.reason);
    return result.unixMs;
  },
  // Only an AT command calls this, after boot, when `power` exists.
  reboot: () => void power.hardReboot(),
  log,
};
const at = createAtPort(modem, (bytes) => output.emit('at', bytes), services);
const power = new BoardPower({
  modem,
  profile,
  output,
  at,
  netBridge,
  log,
  vmHost: {
    profile,
    vmWorkerPath: data.vmWorkerPath,
    filesystemDir: data.filesystemDir,
    rtc: sharedRtc.buffer,
    log,
    output: (bytes) => output.emit('repl', bytes),
    call: (name, args, signal) => bridge.call(name, args, signal),
    isInterruptible: (name) => QuecPythonBridge.isInterruptible(name),
  },
});

const control = new BoardControl(modem, profile, output, power);

port.on('message', (message: ToBoard) => {
  if (message.type === 'input') {
    if (!output.portsUp || output.closed) return;
    const bytes = Buffer.from(message.bytes);
    if (message.port === 'at') at.receive(bytes);
    else power.replInput(bytes);
    return;
  }
  control.request(message.request).then(
    (value) => post({ type: 'reply', id: message.id, ok: true, value }),
    (error: unknown) => post({ type: 'reply', id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});

// `reboot` and `usb-disconnect` act on a booted board: they are applied once it is up.
const startupFaults = data.faults.map((text) => parseFault(text));
const afterBoot = (fault: { name: string }): boolean => fault.name === 'reboot' || fault.name === 'usb-disconnect';
for (const fault of startupFaults) if (!afterBoot(fault)) control.applyFault(fault);
power.powerOn().then(
  () => {
    post({ type: 'ready' });
    for (const fault of startupFaults) if (afterBoot(fault)) control.applyFault(fault);
  },
  (error: unknown) => post({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
);
