import { cmeMeaning } from '../../channel/at/codes.js';
import type { ModemModel } from '../modem.js';
import type { NtpFailureCode } from '../services.js';
import { queryNtp } from './commands-ntp.js';
import { cidOf, error, formatBoardTime, ok, parseCommandLine, splitArgs, type Answer, type AtCommand } from './command-line.js';
import { modemCommand, networkLocalMs } from './commands-modem.js';

/**
 * What the AT interpreter needs from the simulated board around it. The sim engineer's SimServices
 * (harness/sim/services.ts) provides these; declared structurally here so the interpreter can be
 * tested on a bare ModemModel.
 */
export interface AtServices {
  /**
   * A firmware-like SNTP query to `host` (a name resolved through the modem's host map, optionally
   * `host:port`), loopback only. Resolves to the server's UTC time in ms at the moment the answer
   * arrived (round trip compensated), on the host wall clock's scale.
   */
  ntpQueryUtcMs(host: string, timeoutMs: number): Promise<number>;
  /**
   * The same query with the reason for a failure (the sim board's SimServices has it). When given,
   * AT+QNTP uses it and reports dns as 565, refused as 566, timeout as 569; without it every
   * rejection of `ntpQueryUtcMs` can only be reported as 569.
   */
  ntpQuery?(host: string, timeoutMs: number): Promise<{ ok: true; unixMs: number } | { ok: false; code: NtpFailureCode }>;
  /** Called after `AT+CFUN=1,1` answered OK: the board reboots (port vanishes and comes back). */
  reboot?(): void;
}

const DEFAULT_DELAY_MS = 5;
/** How long after AT+CFUN=1,1 the interpreter says `RDY` when nobody else handles the reboot. */
const REBOOT_RDY_MS = 300;

/**
 * An EC2x-like AT command interpreter on the shared ModemModel: one command at a time, echo, CMEE
 * modes, delays from the profile's `atDelays`, URCs for asynchronous results (+QNTP, +QIURC, RDY).
 * Output uses Quectel's framing: every line as `\r\n<line>\r\n`.
 */
export class AtInterpreter {
  private echo = true;
  private cmee = 1;
  private ctzu = 0;
  private inbound = '';
  private readonly pending: string[] = [];
  private busy = false;
  private ntpBusy = false;
  /** Bumped by reset(): work started before a reboot must not answer after it. */
  private generation = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Work a command of the current line left for after the line's final result code. */
  private readonly afterLine: Array<() => void | Promise<void>> = [];
  private readonly detach: () => void;

  constructor(
    private readonly modem: ModemModel,
    private readonly send: (bytes: Buffer) => void,
    private readonly services: AtServices,
  ) {
    const onDrop = (cid: number): void => this.urc(`+QIURC: "pdpdeact",${cid}`);
    modem.on('pdp-dropped', onDrop);
    this.detach = () => modem.off('pdp-dropped', onDrop);
  }

  receive(bytes: Buffer): void {
    // Only S3 (\r) ends a command line; a \n (terminals send \r\n) is ignored wherever it falls.
    this.inbound += bytes.toString('latin1').replace(/\n/g, '');
    for (;;) {
      const end = this.inbound.indexOf('\r');
      if (end < 0) break;
      const line = this.inbound.slice(0, end).trim();
      this.inbound = this.inbound.slice(end + 1);
      // A module ignores anything that does not start with AT (line noise, an empty line).
      if (/^AT/i.test(line)) this.pending.push(line);
    }
    void this.pump();
  }

  /** The board rebooted: power-on defaults, nothing pending, no late answers from before. */
  reset(): void {
    this.generation += 1;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.afterLine.length = 0;
    this.echo = true;
    this.cmee = 1;
    this.inbound = '';
    this.pending.length = 0;
    this.busy = false;
    this.ntpBusy = false;
  }

  dispose(): void {
    this.reset();
    this.detach();
  }

  /** Sends an unsolicited result code. */
  urc(line: string): void {
    this.write(`\r\n${line}\r\n`);
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    const generation = this.generation;
    this.busy = true;
    try {
      for (let line = this.pending.shift(); line !== undefined; line = this.pending.shift()) {
        if (this.echo) this.write(`${line}\r`);
        const commands = parseCommandLine(line);
        let final = 'ERROR';
        if (commands === undefined) {
          // A syntax error anywhere in the line: nothing of it runs.
          await this.sleep(DEFAULT_DELAY_MS);
          if (generation !== this.generation) return;
        } else {
          // One command after another, each with its own delay and information lines; one final
          // result code for the line: OK, or the first error, which stops the rest of the line.
          final = 'OK';
          for (const command of commands) {
            const delayMs = this.modem.profile.atDelays[`AT${command.name}`] ?? DEFAULT_DELAY_MS;
            // The board reads its clock when its delay is up, though a loaded host may wake the sim
            // later: a loaded host is not a loaded board, and a late answer still brackets the read.
            // Never after now: a timer may fire up to a ms early (libuv's loop time is whole ms).
            const readAtMs = this.modem.nowMs() + delayMs;
            await this.sleep(delayMs);
            if (generation !== this.generation) return;
            const answer = await this.execute(command, Math.min(readAtMs, this.modem.nowMs()));
            if (generation !== this.generation) return;
            this.write(answer.lines.map((text) => `\r\n${text}\r\n`).join(''));
            if (answer.final !== 'OK') {
              final = answer.final;
              break;
            }
          }
        }
        this.write(`\r\n${final}\r\n`);
        this.runAfterLine();
      }
    } finally {
      if (generation === this.generation) this.busy = false;
    }
  }

  private async execute(command: AtCommand, readAtMs: number): Promise<Answer> {
    const { name, form } = command;
    const args = splitArgs(command.argText);
    const modem = this.modem;
    switch (`${name}${form}`) {
      case '':
        return ok();
      case 'E0':
      case 'E':
        this.echo = false;
        return ok();
      case 'E1':
        this.echo = true;
        return ok();
      case '+CMEE=': {
        const mode = Number(args[0]);
        if (![0, 1, 2].includes(mode)) return error();
        this.cmee = mode;
        return ok();
      }
      case '+CMEE?':
        return ok([`+CMEE: ${this.cmee}`]);
      case '+CMEE=?':
        return ok(['+CMEE: (0-2)']);
      case '+CFUN=':
        if (args[0] === '1' && args[1] === '1') {
          this.afterAnswer(() => this.reboot());
          return ok();
        }
        return ['0', '1', '4'].includes(args[0] ?? '') ? ok() : error();
      case '+QNTP=':
        return this.qntp(args);
      case '+CTZU=': {
        const mode = Number(args[0]);
        if (![0, 1, 3].includes(mode)) return error();
        this.ctzu = mode;
        // Mode 3 also writes the network's local time into the RTC.
        if (mode === 3 && modem.registered) modem.setRtcReadingMs(networkLocalMs(modem));
        return ok();
      }
      case '+CTZU?':
        return ok([`+CTZU: ${this.ctzu}`]);
      default:
        return modemCommand(command, modem, (code) => this.cme(code), readAtMs) ?? error();
    }
  }

  /** `AT+QNTP=<cid>,"<server>"[,<port>[,<autosettime>]]`: OK at once, the result later as a URC. */
  private qntp(args: string[]): Answer {
    const cid = cidOf(args[0]);
    const server = args[1];
    const port = Number(args[2] ?? 123);
    const autoSetText = args[3] ?? '1';
    const autoSet = autoSetText === '1';
    if (cid === undefined || !server || !Number.isInteger(port) || port < 1 || port > 65_535) return error();
    if (autoSetText !== '0' && autoSetText !== '1') return error();
    if (this.ntpBusy) {
      this.afterAnswer(() => this.urc('+QNTP: 568'));
      return ok();
    }
    if (!this.modem.context(cid).active) {
      this.afterAnswer(() => this.urc('+QNTP: 561'));
      return ok();
    }
    this.ntpBusy = true;
    const generation = this.generation;
    this.afterAnswer(async () => {
      const result = await queryNtp(this.modem, this.services, server, port, (ms) => this.sleep(ms));
      if (generation !== this.generation) return;
      this.ntpBusy = false;
      if (typeof result === 'number') {
        this.urc(`+QNTP: ${result}`);
        return;
      }
      // The server's time in the modem's zone (the RTC holds local wall time: UTC plus the zone),
      // reported whether or not autosettime writes it into the RTC.
      const zone = this.modem.zoneQuarterHours;
      const localMs = result.utcMs + zone * 15 * 60_000;
      // Whether the RTC keeps the NTP fraction is a profile setting (UNCONFIRMED, see profile.ts).
      if (autoSet) this.modem.setRtcReadingMs(this.modem.profile.qntpKeepsFraction ? localMs : Math.floor(localMs / 1000) * 1000);
      this.urc(`+QNTP: 0,"${formatBoardTime(localMs, zone, 4)}"`);
    });
    return ok();
  }

  private reboot(): void {
    if (this.services.reboot) {
      this.services.reboot();
      return;
    }
    this.reset();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.urc('RDY');
    }, REBOOT_RDY_MS);
    this.timers.add(timer);
  }

  /**
   * Runs `task` after the current line's final result code has been written (a URC must follow the
   * OK, also when the command is not the last of a `;` chain).
   */
  private afterAnswer(task: () => void | Promise<void>): void {
    this.afterLine.push(task);
  }

  private runAfterLine(): void {
    for (const task of this.afterLine.splice(0)) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void task();
      }, 1);
      this.timers.add(timer);
    }
  }

  private cme(code: number): Answer {
    if (this.cmee === 0) return error();
    return { lines: [], final: `+CME ERROR: ${this.cmee === 2 ? cmeMeaning(code) : code}` };
  }

  private sleep(ms: number): Promise<void> {
    // A zero delay (profile atDelays) answers at once: a timer would add >= 1 ms of simulator to every figure.
    if (!(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private write(text: string): void {
    this.send(Buffer.from(text, 'latin1'));
  }
}
