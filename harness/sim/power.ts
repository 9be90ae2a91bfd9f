/**
 * Power, reboots and USB of a simulated board: power-on (RDY, a fresh VM, QuecPython's auto dial), the
 * hard reboot of AT+CFUN=1,1 and the `reboot` fault, the soft reboot, the cable pulled and put back,
 * and the one MicroPython VM thread the REPL port talks to (replaced when a Ctrl-C cannot stop it).
 */
import { sleep } from '../core/sleep.js';
import type { AtPort } from './at/port.js';
import type { BoardOutput } from './board-output.js';
import { FRIENDLY_PROMPT, KEYBOARD_INTERRUPT_TRACEBACK, RAW_EXEC_END } from './micropython/prompts.js';
import type { ModemModel } from './modem.js';
import type { BoardProfile } from './profile.js';
import type { VmBoot } from './protocol.js';
import { VmThread, type VmHost } from './vm-thread.js';

/** After AT+CFUN=1,1 answers OK, the module takes a moment before its ports drop. */
const REBOOT_DROP_AFTER_MS = 100;
/** How long the `usb-disconnect` fault keeps the ports away when given no duration. */
const USB_DISCONNECT_DEFAULT_MS = 2000;

export interface PowerParts {
  readonly modem: ModemModel;
  readonly profile: Pick<BoardProfile, 'autoDial' | 'rebootDelay'>;
  readonly output: BoardOutput;
  readonly at: AtPort;
  readonly netBridge: { closeAll(): void };
  readonly vmHost: VmHost;
  log(message: string): void;
}

export class BoardPower {
  /** Bumped by every hard reboot and by close: a boot step of an older generation stops. */
  private generation = 0;
  private vm: VmThread | undefined;

  constructor(private readonly parts: PowerParts) {}

  /** Host bytes for the REPL port. */
  replInput(bytes: Buffer): void {
    if (this.parts.modem.faults.replRefused) {
      this.parts.output.emit('repl', 'REPL refuse\r\n');
      return;
    }
    this.vm?.input(bytes);
  }

  async powerOn(): Promise<void> {
    const { modem, profile, output, log } = this.parts;
    const myGeneration = this.generation;
    this.parts.at.reset();
    output.setPortsUp(true);
    output.emit('at', '\r\nRDY\r\n');
    await this.startVm('power-on');
    if (myGeneration !== this.generation) return;
    if (profile.autoDial && modem.registered) {
      // QuecPython dials profile 1 by itself after boot; the application note waits for it.
      modem.activate(1).catch((error: unknown) => log(`auto dial: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  async hardReboot(): Promise<void> {
    const { modem, profile, output, netBridge, log } = this.parts;
    if (output.closed) return;
    this.generation += 1;
    const myGeneration = this.generation;
    await sleep(REBOOT_DROP_AFTER_MS);
    output.setPortsUp(false);
    await this.stopVm();
    netBridge.closeAll();
    modem.powerCycle();
    this.parts.at.reset();
    await sleep(profile.rebootDelay);
    if (output.closed || myGeneration !== this.generation) return;
    await this.powerOn().catch((error: unknown) => log(`reboot: ${error instanceof Error ? error.message : String(error)}`));
  }

  async softReboot(): Promise<void> {
    await this.stopVm();
    this.parts.netBridge.closeAll();
    await this.startVm('soft');
  }

  /** The `usb-disconnect` fault: the ports go for `durationMs` (default 2 s) and come back. */
  usbDisconnect(durationMs: number | undefined): void {
    const { output } = this.parts;
    output.setPortsUp(false);
    const timer = setTimeout(() => {
      if (!output.closed) output.setPortsUp(true);
    }, durationMs ?? USB_DISCONNECT_DEFAULT_MS);
    timer.unref();
  }

  async close(): Promise<void> {
    this.generation += 1;
    this.parts.output.close();
    this.parts.at.dispose();
    await this.stopVm();
    this.parts.netBridge.closeAll();
  }

  private async startVm(boot: VmBoot): Promise<void> {
    const thread = new VmThread(this.parts.vmHost, boot, (stuck, replay) => this.replaceStuckVm(stuck, replay));
    this.vm = thread;
    await thread.ready;
  }

  /**
   * A Ctrl-C did not stop Python (see VmThread.input): end the VM thread, print what a board prints
   * when a Ctrl-C stops a command (in raw mode inside the exec's framing: stdout ended by `\x04`, the
   * traceback, `\x04>`; in friendly mode the traceback and `>>> `) and start a fresh VM at that prompt,
   * handing it what the host sent from the Ctrl-C on. The RTC and the modem stay as they are.
   */
  private replaceStuckVm(thread: VmThread, replay: Buffer[]): void {
    const { output, log } = this.parts;
    if (this.vm !== thread || output.closed) return;
    const raw = thread.replMode.mode === 'raw';
    log('Ctrl-C did not stop Python (no call into the board): the MicroPython VM is replaced, Python state is lost');
    void thread.stop();
    output.emit('repl', raw ? `\x04${KEYBOARD_INTERRUPT_TRACEBACK}${RAW_EXEC_END}` : `${KEYBOARD_INTERRUPT_TRACEBACK}${FRIENDLY_PROMPT}`);
    const fresh = new VmThread(this.parts.vmHost, raw ? 'resume-raw' : 'resume-friendly', (stuck, again) => this.replaceStuckVm(stuck, again));
    this.vm = fresh;
    for (const bytes of replay) fresh.input(bytes);
    fresh.ready.catch((error: unknown) => log(`MicroPython VM did not restart after Ctrl-C: ${error instanceof Error ? error.message : String(error)}`));
  }

  private async stopVm(): Promise<void> {
    const thread = this.vm;
    this.vm = undefined;
    await thread?.stop();
  }
}
