/**
 * The AT commands that only read or set the modem model: identity, SIM and registration, PDP
 * contexts, the RTC. The interpreter (interpreter.ts) keeps the commands that change its own state
 * (echo, CMEE, CTZU) or answer later (QNTP, CFUN reboot).
 */
import { ModemError, type ModemModel } from '../modem.js';
import { cidOf, error, formatBoardTime, ok, splitArgs, type Answer, type AtCommand } from './command-line.js';

const REG_STAT: Record<ModemModel['network'], number> = { registered: 1, roaming: 5, searching: 2, denied: 3 };

/** `+CME ERROR: <code>` in the port's current CMEE mode. */
export type CmeAnswer = (code: number) => Answer;

/**
 * The answer to `command` if it is one of these; undefined for any other command. `cme` words a
 * `+CME ERROR` as the port's CMEE mode says; `readAtMs` is the host instant the board reads its clock.
 */
export function modemCommand(command: AtCommand, modem: ModemModel, cme: CmeAnswer, readAtMs = modem.nowMs()): Answer | Promise<Answer> | undefined {
  const { name, form } = command;
  const args = splitArgs(command.argText);
  const profile = modem.profile;
  switch (`${name}${form}`) {
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
    case '+CPIN?':
      if (modem.sim === 'absent') return cme(10);
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
    case '+QICSGP=':
      return qicsgp(modem, args);
    case '+QIACT=':
      return qiact(modem, args, cme);
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
    case '+CCLK?':
      return ok([`+CCLK: "${formatBoardTime(modem.rtcReadingMs(readAtMs), modem.zoneQuarterHours, 2)}"`]);
    case '+CCLK=':
      return setClock(modem, args[0] ?? '', cme);
    case '+QLTS':
    case '+QLTS=': {
      if (!modem.registered) return ok(['+QLTS: ""']);
      const mode = Number(args[0] ?? 0);
      const readingMs = mode === 2 ? networkLocalMs(modem) : Date.now();
      return ok([`+QLTS: "${formatBoardTime(readingMs, modem.zoneQuarterHours, 4)},0"`]);
    }
    default:
      return undefined;
  }
}

/** The network's local time: true UTC (the host clock) plus its zone. */
export function networkLocalMs(modem: ModemModel): number {
  return Date.now() + modem.zoneQuarterHours * 15 * 60_000;
}

function qicsgp(modem: ModemModel, args: string[]): Answer {
  const cid = cidOf(args[0]);
  if (cid === undefined) return error();
  const context = modem.context(cid);
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

async function qiact(modem: ModemModel, args: string[], cme: CmeAnswer): Promise<Answer> {
  const cid = cidOf(args[0]);
  if (cid === undefined) return error();
  if (modem.context(cid).active) return error();
  try {
    await modem.activate(cid);
    return ok();
  } catch (failure) {
    if (!(failure instanceof ModemError)) throw failure;
    if (failure.kind === 'sim') return cme(modem.sim === 'pin' ? 11 : 10);
    if (failure.kind === 'network') return cme(30);
    return error();
  }
}

function setClock(modem: ModemModel, text: string, cme: CmeAnswer): Answer {
  const match = /^(\d{2}|\d{4})\/(\d{2})\/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-]\d{1,2})$/.exec(text);
  if (!match) return cme(50);
  const [year, month, day, hour, minute, second, zone] = match.slice(1).map(Number) as [
    number, number, number, number, number, number, number,
  ];
  modem.setRtcReadingMs(Date.UTC(year < 100 ? 2000 + year : year, month - 1, day, hour, minute, second));
  modem.zoneQuarterHours = zone;
  return ok();
}
