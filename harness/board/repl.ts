import { BoardError } from '../core/errors.js';
import type { ReplChannel } from '../channel/repl/repl.js';
import type { PyValue } from '../channel/repl/pyliteral.js';
import { pythonStringLiteral } from '../channel/repl/repl.js';
import type {
  BoardDriver,
  BoardIdentity,
  DialOptions,
  DialResult,
  LocaltimeReading,
  LocaltimeTuple,
  ReadOptions,
  SyncOptions,
  SyncResult,
} from './board.js';

export interface ReplBoardOptions {
  /** Time to wait between `dataCall.getInfo` polls while a call comes up. */
  dialPollMs?: number;
}

/**
 * A QuecPython board over its REPL port, using the QuecPython modules a person would use
 * (`dataCall`, `checkNet`, `ntptime`, `utime`, `uos`, `modem`), as in Quectel's NTP application note.
 */
export class ReplBoardDriver implements BoardDriver {
  readonly via = 'repl' as const;

  constructor(
    readonly repl: ReplChannel,
    private readonly options: ReplBoardOptions = {},
  ) {}

  async identify(timeoutMs: number): Promise<BoardIdentity> {
    // Each field on its own, so a module the firmware lacks costs only that field.
    await this.repl.exec(IDENTIFY_SOURCE, { timeoutMs });
    const answer = await this.repl.eval('_qhil_identify()', { timeoutMs });
    const fields = asMap(answer);
    const details: Record<string, string> = {};
    const uname = fields.get('uname');
    if (Array.isArray(uname)) {
      const names = ['sysname', 'nodename', 'release', 'version', 'machine', 'qpyver'];
      uname.forEach((item, index) => {
        const text = String(item);
        // QuecPython prints 'key=value' strings; plain MicroPython prints bare values.
        const eq = text.indexOf('=');
        if (eq > 0) details[text.slice(0, eq)] = text.slice(eq + 1);
        else details[names[index] ?? `uname${index}`] = text;
      });
    }
    for (const key of ['firmware', 'imei']) {
      const value = fields.get(key);
      if (typeof value === 'string') details[key] = value;
    }
    const machine = details.machine ?? '';
    const version = /^(v[\d.]+)/.exec(details.version ?? '')?.[1];
    return {
      model: machine.replace(/\s+with\s+QUECTEL$/i, '') || details.sysname,
      firmware: details.firmware,
      quecpython: /quectel/i.test(machine) || details.qpyver ? version : undefined,
      imei: details.imei,
      details,
    };
  }

  async dial(options: DialOptions): Promise<DialResult> {
    const startedAt = performance.now();
    const left = (): number => options.timeoutMs - (performance.now() - startedAt);
    const first = await this.callInfo(options.profile, left());
    if (first.state === 1 && first.address !== '0.0.0.0') {
      return { profile: options.profile, address: first.address, alreadyUp: true, dns: first.dns };
    }
    const apn = options.apn ?? '';
    // Activate, and while the network refuses (a board still registering after power-on), try again
    // each second: checkNet.wait_network_connected would wait for an automatic data call that a
    // board with auto-dial off never makes.
    for (;;) {
      const activation = await this.repl.eval(
        `(__import__('dataCall').setPDPContext(${options.profile}, 0, ${pythonStringLiteral(apn)}, '', '', 0), ` +
          `__import__('dataCall').activate(${options.profile}))`,
        { timeoutMs: left() },
      );
      if (Array.isArray(activation) && activation[1] === 0) break;
      const simStatus = await this.repl.eval(`__import__('sim').getStatus()`, { timeoutMs: left() });
      if (simStatus !== 1) {
        throw new BoardError(`SIM card not ready: sim.getStatus() returned ${String(simStatus)} (${SIM_STATUS[String(simStatus)] ?? 'not ready'}); no data call`);
      }
      if (left() < 2500) {
        const net = await this.repl.eval(`__import__('checkNet').wait_network_connected(1)`, { timeoutMs: left() }).catch(() => 'unknown');
        throw new BoardError(
          `dataCall.activate(${options.profile}) kept returning ${String(Array.isArray(activation) ? activation[1] : activation)} ` +
            `(APN ${JSON.stringify(apn)}) for ${options.timeoutMs}ms; network: checkNet.wait_network_connected(1) gave ${describeNetState(net)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    for (;;) {
      const info = await this.callInfo(options.profile, left());
      if (info.state === 1 && info.address !== '0.0.0.0') {
        return { profile: options.profile, address: info.address, alreadyUp: false, dns: info.dns };
      }
      if (left() < (this.options.dialPollMs ?? 200)) {
        throw new BoardError(
          `data call on profile ${options.profile} not up within ${options.timeoutMs}ms: dataCall.getInfo says state ${info.state}, address ${info.address}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.dialPollMs ?? 200));
    }
  }

  /** `dataCall.getInfo(profile, 0)` -> `(profileID, ipType, [state, reconnect, addr, priDNS, secDNS])`. */
  private async callInfo(profile: number, timeoutMs: number): Promise<CallInfo> {
    const value = await this.repl.eval(`__import__('dataCall').getInfo(${profile}, 0)`, { timeoutMs: Math.max(1, timeoutMs) });
    const details = Array.isArray(value) ? value[2] : undefined;
    if (value === -1) return { state: 0, address: '0.0.0.0', dns: [] };
    if (!Array.isArray(details) || typeof details[0] !== 'number' || typeof details[2] !== 'string') {
      throw new BoardError(`dataCall.getInfo(${profile}, 0) gave an unexpected answer: ${JSON.stringify(String(value))}`);
    }
    return {
      state: details[0],
      address: details[2],
      dns: details.slice(3).filter((item): item is string => typeof item === 'string'),
    };
  }

  async syncClock(options: SyncOptions): Promise<SyncResult> {
    const setHost = options.server ? `r['sethost'] = ntptime.sethost(${pythonStringLiteral(options.server)})\n` : '';
    // settime() returns 0 or -1 on most firmware, but raises OSError after its silent fall-backs on
    // others (quectel.md): both are a failed sync. ntptime.host afterwards says which server it used.
    const code =
      'import ntptime\nr = {}\n' +
      setHost +
      `try:\n    r['settime'] = ntptime.settime(${Math.trunc(options.timezoneHours)})\n` +
      "except Exception as e:\n    r['error'] = '%s: %s' % (type(e).__name__, e)\n" +
      "r['host'] = ntptime.host\nprint(repr(r))";
    const { stdout } = await this.repl.exec(code, { timeoutMs: options.timeoutMs });
    const answer = asMap(this.repl.parseAnswer(stdout, 'ntptime.settime()'));
    const usedServer = typeof answer.get('host') === 'string' ? (answer.get('host') as string) : undefined;
    const error = answer.get('error');
    const settime = answer.get('settime');
    const setHostCode = answer.get('sethost');
    const result: SyncResult = { ok: false, requestedServer: options.server, usedServer };
    if (setHostCode !== undefined && setHostCode !== 0) {
      return { ...result, reason: `ntptime.sethost(${JSON.stringify(options.server)}) returned ${String(setHostCode)}`, boardCode: String(setHostCode) };
    }
    if (typeof error === 'string') return { ...result, reason: error, boardCode: error.split(':')[0] };
    if (settime !== 0) return { ...result, reason: `ntptime.settime() returned ${String(settime)}`, boardCode: String(settime) };
    return { ...result, ok: true, boardCode: '0' };
  }

  async readLocaltime(options: ReadOptions): Promise<LocaltimeReading> {
    // Import first, so the timed exchange carries as little work as possible.
    await this.repl.exec('import utime', { timeoutMs: options.timeoutMs });
    const hostSendMs = Date.now();
    const { stdout } = await this.repl.exec('print(utime.localtime())', { timeoutMs: options.timeoutMs });
    const hostReceiveMs = Date.now();
    const value = this.repl.parseAnswer(stdout, 'utime.localtime()');
    return { via: 'repl', localtime: toLocaltimeTuple(value, stdout), hostSendMs, hostReceiveMs, raw: stdout.trim() };
  }
}

const IDENTIFY_SOURCE = `
def _qhil_identify():
    r = {}
    try:
        import uos
        r['uname'] = tuple(uos.uname())
    except Exception as e:
        r['uname_error'] = repr(e)
    try:
        import modem
        r['firmware'] = modem.getDevFwVersion()
        r['imei'] = modem.getDevImei()
    except Exception as e:
        r['modem_error'] = repr(e)
    return r
`;

/** sim.getStatus(): 0 removed, 1 ready, 2 PIN required (quectel.md). */
const SIM_STATUS: Readonly<Record<string, string>> = { '0': 'no SIM card', '1': 'ready', '2': 'PIN required' };

interface CallInfo {
  state: number;
  address: string;
  dns: string[];
}

function asMap(value: PyValue): Map<unknown, PyValue> {
  if (!(value instanceof Map)) throw new BoardError(`expected a dict from the board, got ${JSON.stringify(String(value))}`);
  return value;
}

function describeNetState(value: PyValue): string {
  if (!Array.isArray(value)) return String(value);
  const [stage, sub] = value;
  const meaning = stage === 1 ? ' (SIM card not ready: no SIM card or PIN needed)' : stage === 2 ? ' (not registered on the network)' : '';
  return `(${String(stage)}, ${String(sub)})${meaning}`;
}

export function toLocaltimeTuple(value: PyValue, raw: string): LocaltimeTuple {
  if (
    !Array.isArray(value) ||
    value.length < 8 ||
    value.slice(0, 8).some((field) => typeof field !== 'number' || !Number.isInteger(field))
  ) {
    throw new BoardError(`utime.localtime() gave ${JSON.stringify(raw.trim())}: expected an 8-tuple of integers`);
  }
  return value.slice(0, 8) as LocaltimeTuple;
}
