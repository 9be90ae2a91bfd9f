/**
 * The worker side of one simulated Quectel board: it wires the parts together. The ModemModel both
 * ports share; the AT port (at/port.ts); output shaping (board-output.ts); power, reboots, USB and the
 * VM thread (power.ts, vm-thread.ts); the QuecPython bridge over the modem (bridge.ts); faults and
 * control requests (board-control.ts). The MicroPython VM runs in a thread of its own
 * (micropython/vm-worker.ts) because Python that runs blocks its thread; the board host's event loop
 * (worker.ts) stays free, so the AT port answers, NTP queries go out and a Ctrl-C on the REPL is seen
 * while Python code is running.
 *
 * A board side holds all of its board's state: several live in one host worker and share nothing.
 */
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

export class BoardSide {
  private readonly output: BoardOutput;
  private readonly at: ReturnType<typeof createAtPort>;
  private readonly power: BoardPower;
  private readonly control: BoardControl;
  private readonly post: (message: FromBoard) => void;

  /** Boots the board (power-on); `post` carries its messages to the main thread. */
  constructor(data: BoardWorkerData, post: (message: FromBoard) => void) {
    this.post = post;
    const profile = {
      ...data.profile,
      hosts: { ...data.profile.hosts, ...data.hosts },
      clockOffset: data.clockOffsetMs ?? data.profile.clockOffset,
    };
    const modem = new ModemModel(profile);
    modem.faults.replRefused = profile.replProtected;
    const log = (message: string): void => post({ type: 'log', message });
    // The VM thread reads the RTC from here (shared-rtc.ts), one per board; published on every change.
    const sharedRtc = new SharedRtc();
    const publishRtc = (): void =>
      sharedRtc.publish({ readingMs: modem.rtcReadingMs(), atMonoMs: monoMs(), driftPpm: modem.clockDriftPpm, zoneHours: modem.utimeZoneHours });
    modem.on('rtc-changed', publishRtc);
    publishRtc();
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
      reboot: () => void this.power.hardReboot(),
      log,
    };
    this.output = output;
    this.at = createAtPort(modem, (bytes) => output.emit('at', bytes), services);
    this.power = new BoardPower({
      modem,
      profile,
      output,
      at: this.at,
      netBridge,
      log,
      vmHost: {
        profile,
        vmWorkerPath: data.vmWorkerPath,
        ...(data.vmModule && { vmModule: data.vmModule }),
        filesystemDir: data.filesystemDir,
        rtc: sharedRtc.buffer,
        log,
        output: (bytes) => output.emit('repl', bytes),
        call: (name, args, signal) => bridge.call(name, args, signal),
        isInterruptible: (name) => QuecPythonBridge.isInterruptible(name),
      },
    });
    this.control = new BoardControl(modem, profile, output, this.power);

    // `reboot` and `usb-disconnect` act on a booted board: they are applied once it is up.
    const startupFaults = data.faults.map((text) => parseFault(text));
    const afterBoot = (fault: { name: string }): boolean => fault.name === 'reboot' || fault.name === 'usb-disconnect';
    for (const fault of startupFaults) if (!afterBoot(fault)) this.control.applyFault(fault);
    this.power.powerOn().then(
      () => {
        post({ type: 'ready' });
        for (const fault of startupFaults) if (afterBoot(fault)) this.control.applyFault(fault);
      },
      (error: unknown) => post({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
    );
  }

  /** A message from the main thread: port input or a control request. */
  receive(message: ToBoard): void {
    if (message.type === 'input') {
      if (!this.output.portsUp || this.output.closed) return;
      const bytes = Buffer.from(message.bytes);
      if (message.port === 'at') this.at.receive(bytes);
      else this.power.replInput(bytes);
      return;
    }
    this.control.request(message.request).then(
      (value) => this.post({ type: 'reply', id: message.id, ok: true, value }),
      (error: unknown) => this.post({ type: 'reply', id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  }

  /** The board is gone (closed, or its host is dropping it): ports down, VM stopped, sockets closed. */
  dispose(): Promise<void> {
    return this.power.close();
  }
}
