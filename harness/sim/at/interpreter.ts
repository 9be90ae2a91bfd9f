import { cmeMeaning } from '../../channel/at/codes.js';
import { ModemError, type ModemModel } from '../modem.js';

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
  /** Called after `AT+CFUN=1,1` answered OK: the board reboots (port vanishes and comes back). */
  reboot?(): void;
}

const DEFAULT_DELAY_MS = 5;
/** How long after AT+CFUN=1,1 the interpreter says `RDY` when nobody else handles the reboot. */
const REBOOT_RDY_MS = 300;
const REG_STAT: Record<ModemModel['network'], number> = { registered: 1, roaming: 5, searching: 2, denied: 3 };

type Answer = { lines: string[]; final: string } | { silent: true };

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
    this.inbound += bytes.toString('latin1');
    for (;;) {
      const end = this.inbound.search(/[\r\n]/);
      if (end < 0) break;
      const line = this.inbound.slice(0, end).trim();
      this.inbound = this.inbound.slice(end + 1);
      // A module ignores anything that does not start with AT (line noise, a stray \n after \r).
      if (/^AT/i.test(line)) this.pending.push(line);
    }
    void this.pump();
  }

  /** The board rebooted: power-on defaults, nothing pending, no late answers from before. */
  reset(): void {
    this.generation += 1;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
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
        const name = commandName(line);
        await this.sleep(this.modem.profile.atDelays[name] ?? DEFAULT_DELAY_MS);
        if (generation !== this.generation) return;
        const answer = await this.execute(line);
        if (generation !== this.generation) return;
        if ('silent' in answer) continue;
        this.write(answer.lines.map((text) => `\r\n${text}\r\n`).join('') + `\r\n${answer.final}\r\n`);
      }
    } finally {
      if (generation === this.generation) this.busy = false;
    }
  }

  private async execute(line: string): Promise<Answer> {
    const body = line.slice(2);
    const match = /^([+&$^][A-Za-z0-9]+|[A-Za-z]\d*)(=\?|\?|=)?(.*)$/.exec(body);
    if (body === '') return ok();
    if (!match) return error();
    const name = (match[1] ?? '').toUpperCase();
    const form = match[2] ?? '';
    const args = splitArgs(match[3] ?? '');
    const modem = this.modem;
    const profile = modem.profile;
    switch (`${name}${form}`) {
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
    const autoSet = (args[3] ?? '1') === '1';
    if (cid === undefined || !server || !Number.isInteger(port)) return error();
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
      const code = await this.queryNtp(server, port, autoSet);
      if (generation !== this.generation) return;
      this.ntpBusy = false;
      this.urc(code === 0 ? `+QNTP: 0,"${formatBoardTime(this.modem.rtcReadingMs(), this.modem.zoneQuarterHours, 4)}"` : `+QNTP: ${code}`);
    });
    return ok();
  }

  private async queryNtp(server: string, port: number, autoSet: boolean): Promise<number> {
    if (!this.modem.resolve(server, port)) return 565;
    const timeoutMs = this.modem.profile.ntpTimeout;
    if (this.modem.faults.ntpSilent) {
      await this.sleep(timeoutMs);
      return 569;
    }
    try {
      const utcMs = await this.services.ntpQueryUtcMs(port === 123 ? server : `${server}:${port}`, timeoutMs);
      // The RTC holds local wall time: UTC plus the network's zone.
      if (autoSet) this.modem.setRtcReadingMs(utcMs + this.modem.zoneQuarterHours * 15 * 60_000);
      return 0;
    } catch {
      return 569;
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

  /** Runs `task` after the current answer has been written (the URC must follow the OK). */
  private afterAnswer(task: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void task();
    }, 1);
    this.timers.add(timer);
  }

  private cme(code: number): Answer {
    if (this.cmee === 0) return error();
    return { lines: [], final: `+CME ERROR: ${this.cmee === 2 ? cmeMeaning(code) : code}` };
  }

  private sleep(ms: number): Promise<void> {
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

/** `AT+QIACT=1` -> `AT+QIACT` (the profile's `atDelays` key). */
function commandName(line: string): string {
  const match = /^AT([+&$^][A-Za-z0-9]+|[A-Za-z]\d*)?/i.exec(line);
  return `AT${(match?.[1] ?? '').toUpperCase()}`;
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
