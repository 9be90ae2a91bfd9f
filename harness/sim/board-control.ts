/**
 * The control side of a simulated board: named faults (faults.ts) applied to the modem, the output
 * and the power, and the control requests the main thread sends (board.ts's SimControl).
 */
import type { BoardOutput } from './board-output.js';
import { DEFAULT_GARBLE_SEED, parseFault, type Fault } from './faults.js';
import { defaultFaults, type ModemModel } from './modem.js';
import type { BoardPower } from './power.js';
import type { BoardProfile } from './profile.js';
import type { ControlOp } from './protocol.js';

export class BoardControl {
  constructor(
    private readonly modem: ModemModel,
    private readonly profile: Pick<BoardProfile, 'sim' | 'network' | 'replProtected' | 'clockDriftPpm'>,
    private readonly output: BoardOutput,
    private readonly power: BoardPower,
  ) {}

  applyFault(fault: Fault): void {
    const { modem } = this;
    switch (fault.name) {
      case 'no-sim':
        modem.sim = 'absent';
        this.dropAllCalls();
        break;
      case 'no-network':
        modem.network = 'searching';
        this.dropAllCalls();
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
        this.output.setGarble(rate, mode, seed);
        break;
      }
      case 'repl-refuse':
        modem.faults.replRefused = true;
        break;
      case 'reboot':
        void this.power.hardReboot();
        break;
      case 'usb-disconnect':
        this.power.usbDisconnect(fault.value);
        break;
    }
  }

  /** Back to the profile's SIM, network, drift and no output faults; the clock stays where it is. */
  clearFaults(): void {
    const { modem, profile } = this;
    modem.sim = profile.sim;
    modem.network = profile.network;
    Object.assign(modem.faults, defaultFaults(), { replRefused: profile.replProtected });
    this.output.setGarble(0, 'mixed', DEFAULT_GARBLE_SEED);
    modem.setDriftPpm(profile.clockDriftPpm);
  }

  /** Carries out one request from the main thread; the value is the reply's. */
  async request(request: ControlOp): Promise<number | null> {
    const { modem } = this;
    switch (request.op) {
      case 'set-fault':
        this.applyFault(parseFault(request.name, request.value));
        return null;
      case 'clear-faults':
        this.clearFaults();
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
        if (request.kind === 'soft') await this.power.softReboot();
        else void this.power.hardReboot();
        return null;
      case 'unplug':
        this.output.setPortsUp(false);
        return null;
      case 'replug':
        this.output.setPortsUp(true);
        return null;
      case 'close':
        await this.power.close();
        return null;
    }
  }

  private dropAllCalls(): void {
    for (const context of this.modem.contexts.values()) {
      if (context.active) this.modem.dropContext(context.cid);
    }
  }
}
