import { cmeMeaning } from '../../channel/at/codes.js';
import { ModemError, type ModemModel } from '../modem.js';
import type { NtpFailureCode } from '../services.js';

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
const REG_STAT: Record<ModemModel['network'], number> = { registered: 1, roaming: 5, searching: 2, denied: 3 };
/** `+QNTP: <err>` for each way the NTP service can fail (TCP/IP application note, chapter 4). */
const QNTP_FAILURE: Record<NtpFailureCode, number> = { dns: 565, refused: 566, timeout: 569 };

type Answer = { lines: string[]; final: string };

/** One command of a command line: `+CMEE=1` is name `+CMEE`, form `=`, argument text `1`. */
export interface AtCommand {
  /** Upper case: `+CMEE`, `E0`, `I`; '' for a bare `AT`. */
  name: string;
  form: '' | '?' | '=?' | '=';
  /** What follows `=` up to the next unquoted `;` (only for the `=` form). */
  argText: string;
}

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
            await this.sleep(this.modem.profile.atDelays[`AT${command.name}`] ?? DEFAULT_DELAY_MS);
            if (generation !== this.generation) return;
            const answer = await this.execute(command);
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

  private async execute(command: AtCommand): Promise<Answer> {
    const { name, form } = command;
    const args = splitArgs(command.argText);
    const modem = this.modem;
    const profile = modem.profile;
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
      case 'I':
      case 'I0':
        return ok(['Quectel', profile.product, `Revision: ${profile.revision}`]);
      case '+CGMI':
        return ok(['Quectel']);
      case '+CGMM':
        return ok([profile.product]);
      case '+GMR':
      case '+CGMR':
        return ok([profile.revision]);
      case '+QGMR':
        return ok([profile.firmware]);
      case '+CGSN':
      case '+GSN':
        return ok([profile.imei]);
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
      case '+CPIN?':
        if (modem.sim === 'absent') return this.cme(10);
        return ok([`+CPIN: ${modem.sim === 'pin' ? 'SIM PIN' : 'READY'}`]);
      case '+CSQ':
        return ok([modem.sim === 'absent' ? '+CSQ: 99,99' : `+CSQ: ${modem.csq},99`]);
      case '+CREG?':
      case '+CEREG?':
      case '+CGREG?': {
        const stat = modem.sim === 'ready' ? REG_STAT[modem.network] : 0;
        return ok([`${name}: 0,${stat}`]);
      }
      case '+CFUN?':
        return ok(['+CFUN: 1']);
      case '+CFUN=':
        if (args[0] === '1' && args[1] === '1') {
          this.afterAnswer(() => this.reboot());
          return ok();
        }
        return ['0', '1', '4'].includes(args[0] ?? '') ? ok() : error();
      case '+QICSGP=':
        return this.qicsgp(args);
      case '+QIACT=':
        return this.qiact(args);
      case '+QIACT?':
        return ok(
          [...modem.contexts.values()]
            .filter((context) => context.active)
            .map((context) => `+QIACT: ${context.cid},1,${context.ipType},"${context.address}"`),
        );
      case '+QIDEACT=': {
        const cid = cidOf(args[0]);
        if (cid === undefined) return error();
        modem.deactivate(cid);
        return ok();
      }
      case '+CGPADDR=':
      case '+CGPADDR': {
        const cids = args[0] ? [cidOf(args[0])] : [...modem.contexts.keys()];
        if (cids.some((cid) => cid === undefined)) return error();
        return ok(cids.map((cid) => `+CGPADDR: ${cid},"${modem.context(cid ?? 1).address}"`));
      }
      case '+QIDNSCFG=': {
        const cid = cidOf(args[0]);
        if (cid === undefined) return error();
        const [primary = '0.0.0.0', secondary = '0.0.0.0'] = modem.context(cid).active ? profile.dns : [];
        return ok([`+QIDNSCFG: ${cid},"${primary}","${secondary}"`]);
      }
      case '+QNTP=':
        return this.qntp(args);
      case '+CCLK?':
        return ok([`+CCLK: "${formatBoardTime(modem.rtcReadingMs(), modem.zoneQuarterHours, 2)}"`]);
      case '+CCLK=':
        return this.setClock(args[0] ?? '');
      case '+CTZU=': {
        const mode = Number(args[0]);
        if (![0, 1, 3].includes(mode)) return error();
        this.ctzu = mode;
        // Mode 3 also writes the network's local time into the RTC.
        if (mode === 3 && modem.registered) modem.setRtcReadingMs(this.networkLocalMs());
        return ok();
      }
      case '+CTZU?':
        return ok([`+CTZU: ${this.ctzu}`]);
      case '+QLTS':
      case '+QLTS=': {
        if (!modem.registered) return ok(['+QLTS: ""']);
        const mode = Number(args[0] ?? 0);
        const readingMs = mode === 2 ? this.networkLocalMs() : Date.now();
        return ok([`+QLTS: "${formatBoardTime(readingMs, modem.zoneQuarterHours, 4)},0"`]);
      }
      default:
        return error();
    }
  }

  private qicsgp(args: string[]): Answer {
    const cid = cidOf(args[0]);
    if (cid === undefined) return error();
    const context = this.modem.context(cid);
    if (args.length === 1) {
      return ok([`+QICSGP: ${context.ipType},"${context.apn}","${context.user}","${context.password}",${context.auth}`]);
    }
    const ipType = Number(args[1]);
    if (![1, 2, 3].includes(ipType)) return error();
    context.ipType = ipType;
    context.apn = args[2] ?? '';
    context.user = args[3] ?? '';
    context.password = args[4] ?? '';
    context.auth = Number(args[5] ?? 0);
    return ok();
  }

  private async qiact(args: string[]): Promise<Answer> {
    const cid = cidOf(args[0]);
    if (cid === undefined) return error();
    if (this.modem.context(cid).active) return error();
    try {
      await this.modem.activate(cid);
      return ok();
    } catch (failure) {
      if (!(failure instanceof ModemError)) throw failure;
      if (failure.kind === 'sim') return this.cme(this.modem.sim === 'pin' ? 11 : 10);
      if (failure.kind === 'network') return this.cme(30);
      return error();
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
      const result = await this.queryNtp(server, port);
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

  /** The server's UTC ms, or the `+QNTP` error code. */
  private async queryNtp(server: string, port: number): Promise<{ utcMs: number } | number> {
    if (!this.modem.resolve(server, port)) return QNTP_FAILURE.dns;
    const timeoutMs = this.modem.profile.ntpTimeout;
    if (this.modem.faults.ntpSilent) {
      await this.sleep(timeoutMs);
      return QNTP_FAILURE.timeout;
    }
    const host = port === 123 ? server : `${server}:${port}`;
    if (this.services.ntpQuery) {
      try {
        const result = await this.services.ntpQuery(host, timeoutMs);
        return result.ok ? { utcMs: result.unixMs } : QNTP_FAILURE[result.code];
      } catch {
        return 550; // unknown error: the service broke its contract
      }
    }
    try {
      return { utcMs: await this.services.ntpQueryUtcMs(host, timeoutMs) };
    } catch {
      // This service does not say why it failed: report what a silent server gives.
      return QNTP_FAILURE.timeout;
    }
  }

  private setClock(text: string): Answer {
    const match = /^(\d{2}|\d{4})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-]\d{1,2})$/.exec(text);
    if (!match) return this.cme(50);
    const [year, month, day, hour, minute, second, zone] = match.slice(1).map(Number) as [
      number, number, number, number, number, number, number,
    ];
    this.modem.setRtcReadingMs(Date.UTC(year < 100 ? 2000 + year : year, month - 1, day, hour, minute, second));
    this.modem.zoneQuarterHours = zone;
    return ok();
  }

  /** The network's local time: true UTC (the host clock) plus its zone. */
  private networkLocalMs(): number {
    return Date.now() + this.modem.zoneQuarterHours * 15 * 60_000;
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

function ok(lines: string[] = []): Answer {
  return { lines, final: 'OK' };
}

function error(): Answer {
  return { lines: [], final: 'ERROR' };
}

/**
 * Splits a command line (`AT` included) into its commands, V.250 style, or undefined when the line
 * is malformed. Extended commands (`+CMEE`, `$X`, `^X`) end at `;` or the end of the line, so text
 * after a query (`?`), test (`=?`) or no-argument form is an error, and a set form (`=`) runs to the
 * next `;` outside quotes. Basic commands (`E0`, `I`, `&F`) may follow each other directly (`ATE0V1`)
 * or be separated by `;`; a trailing `;` is allowed. A bare `AT` is one command with an empty name.
 */
export function parseCommandLine(line: string): AtCommand[] | undefined {
  const body = line.slice(2);
  if (body === '') return [{ name: '', form: '', argText: '' }];
  const commands: AtCommand[] = [];
  let at = 0;
  while (at < body.length) {
    const rest = body.slice(at);
    const extended = /^[+$^][A-Za-z0-9]+/.exec(rest);
    const head = extended ?? /^&?[A-Za-z]\d*/.exec(rest);
    if (!head) return undefined;
    at += head[0].length;
    let form: AtCommand['form'] = '';
    let argText = '';
    if (body.startsWith('=?', at)) {
      form = '=?';
      at += 2;
    } else if (body.startsWith('?', at)) {
      form = '?';
      at += 1;
    } else if (body.startsWith('=', at)) {
      form = '=';
      at += 1;
      const end = unquotedSemicolon(body, at);
      if (end < 0) return undefined; // an unterminated string
      argText = body.slice(at, end);
      at = end;
    }
    commands.push({ name: head[0].toUpperCase(), form, argText });
    if (at >= body.length) break;
    if (body[at] === ';') at += 1;
    else if (extended || form === '=') return undefined; // trailing text after the command
  }
  return commands;
}

/** Index of the first `;` outside quotes from `from` (the text's length when none), -1 for an open quote. */
function unquotedSemicolon(text: string, from: number): number {
  let quoted = false;
  for (let index = from; index < text.length; index += 1) {
    const char = text[index];
    if (char === '"') quoted = !quoted;
    else if (char === ';' && !quoted) return index;
  }
  return quoted ? -1 : text.length;
}

function cidOf(text: string | undefined): number | undefined {
  const cid = Number(text);
  return Number.isInteger(cid) && cid >= 1 && cid <= 16 ? cid : undefined;
}

/** Splits `1,1,"CMNET","",""` into values, unquoting strings (commas inside quotes kept). */
export function splitArgs(text: string): string[] {
  if (text.trim() === '') return [];
  const args: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (char === ',' && !quoted) {
      args.push(current.trim());
      current = '';
    } else current += char;
  }
  args.push(current.trim());
  return args;
}

/** A wall-clock reading as Quectel prints it: `yy/MM/dd,hh:mm:ss±zz` (or a 4-digit year). */
export function formatBoardTime(readingMs: number, zoneQuarterHours: number, yearDigits: 2 | 4): string {
  const date = new Date(Math.floor(readingMs / 1000) * 1000);
  const two = (value: number): string => String(value).padStart(2, '0');
  const year = yearDigits === 2 ? two(date.getUTCFullYear() % 100) : String(date.getUTCFullYear());
  const sign = zoneQuarterHours < 0 ? '-' : '+';
  return (
    `${year}/${two(date.getUTCMonth() + 1)}/${two(date.getUTCDate())},` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}${sign}${two(Math.abs(zoneQuarterHours))}`
  );
}
