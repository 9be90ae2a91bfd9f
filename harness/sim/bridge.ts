/**
 * The QuecPython bridge over the modem model: what the sim's Python modules (utime, ntptime, checkNet,
 * dataCall, sim, net, uos.uname, usocket through NetBridge) ask of the board, answered from the
 * ModemModel in the board worker. The VM thread (vm-thread.ts) carries the calls; this file holds
 * their rules: which calls exist, how arguments are checked, which ones a Ctrl-C may cut short.
 */
import { sleep } from '../core/sleep.js';
import { ModemError, type ModemModel } from './modem.js';
import { NetBridge } from './net-bridge.js';
import { ntptimeSetFrom } from './ntp.js';
import type { BoardProfile } from './profile.js';

/** checkNet polls the modem this often while it waits. */
const NET_POLL_MS = 50;
/** Bridge calls a Ctrl-C from the host may cut short (everything that waits). */
const INTERRUPTIBLE: ReadonlySet<string> = new Set(['sleep', 'ntp_settime', 'wait_net', 'datacall_activate', 'stdin']);

const SIM_STATUS: Record<ModemModel['sim'], number> = { absent: 0, ready: 1, pin: 2 };
const REG_STAT: Record<ModemModel['network'], number> = { registered: 1, roaming: 5, searching: 2, denied: 3 };
const MAX_PROFILE_ID = 7;

/** A call Python got wrong: raised in Python as `kind` (any other error becomes an OSError). */
export class BridgeError extends Error {
  constructor(
    readonly kind: 'ValueError' | 'TypeError' | 'OSError',
    message: string,
  ) {
    super(message);
  }
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new BridgeError('TypeError', `${what} must be an int`);
  return value;
}

/** The profile fields the bridge reads. */
export type BridgeProfile = Pick<
  BoardProfile,
  'epoch' | 'ntpTimeout' | 'ntptime' | 'dns' | 'firmware' | 'imei' | 'model' | 'product' | 'quecpython'
>;

export class QuecPythonBridge {
  /** Seconds from 1970-01-01 to the epoch utime counts from (profile.epoch). */
  private readonly epochS: number;

  constructor(
    private readonly modem: ModemModel,
    private readonly profile: BridgeProfile,
    private readonly netBridge: Pick<NetBridge, 'handles' | 'call'>,
    private readonly log: (message: string) => void,
  ) {
    this.epochS = profile.epoch === 2000 ? Date.UTC(2000, 0, 1) / 1000 : 0;
  }

  /** Whether a Ctrl-C on the REPL may cut the call short (it waits). */
  static isInterruptible(name: string): boolean {
    return INTERRUPTIBLE.has(name) || NetBridge.INTERRUPTIBLE.has(name);
  }

  /** Answers one call; throws BridgeError (or any Error, an OSError in Python) for a bad one. */
  async call(name: string, args: unknown[], signal: AbortSignal): Promise<unknown> {
    const { modem, profile } = this;
    const zoneS = modem.utimeZoneHours * 3600;
    switch (name) {
      case 'time':
        return this.rtcSeconds();
      case 'localtime':
        return this.timeFields((args[0] === null || args[0] === undefined ? this.rtcSeconds() : int(args[0], 'secs')) + zoneS);
      case 'gmtime':
        return this.timeFields(args[0] === null || args[0] === undefined ? this.rtcSeconds() : int(args[0], 'secs'));
      case 'mktime': {
        const fields = args[0];
        if (!Array.isArray(fields) || fields.length < 6) throw new BridgeError('TypeError', 'mktime needs a tuple of at least 6 ints');
        const [year, month, day, hour, minute, second] = fields.map((field, i) => int(field, `field ${i}`)) as number[];
        return Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second) / 1000 - zoneS - this.epochS;
      }
      case 'sleep':
        await sleep(Math.max(0, Number(args[0]) || 0), signal);
        return null;
      case 'set_tz':
        modem.utimeZoneHours = int(args[0], 'offset');
        return null;
      case 'get_tz':
        return modem.utimeZoneHours;
      case 'ntp_settime': {
        const host = String(args[0]);
        const zoneHours = int(args[1], 'timezone');
        const timeoutMs = args[2] === undefined || args[2] === null ? profile.ntpTimeout : int(args[2], 'timeout');
        const failure = await ntptimeSetFrom(modem, host, { zoneHours, timeoutMs, strictReply: profile.ntptime === 'unirtos', signal });
        if (failure !== undefined) this.log(`ntptime: ${failure}`);
        return failure === undefined;
      }
      case 'ntptime_generation':
        return profile.ntptime;
      case 'wait_net':
        return this.waitNet(Math.max(0, Number(args[0]) || 0) * 1000, signal);
      case 'datacall_info':
        return this.contextInfo(int(args[0], 'profileID'), int(args[1], 'ipType'));
      case 'datacall_set': {
        const [profileId, ipType, apn, user, password, auth] = args;
        const id = int(profileId, 'profileID');
        const type = int(ipType, 'ipType');
        const authType = int(auth, 'authType');
        if (id < 1 || id > MAX_PROFILE_ID || type < 0 || type > 2 || authType < 0 || authType > 2) return -1;
        const context = modem.context(id);
        // QuecPython numbers IP types from 0 (IPv4); the modem model keeps AT+QICSGP's numbering (1 = IPv4).
        Object.assign(context, { ipType: type + 1, apn: String(apn), user: String(user), password: String(password), auth: authType });
        return 0;
      }
      case 'datacall_activate': {
        const id = int(args[0], 'profileID');
        try {
          await modem.activate(id);
          return 0;
        } catch (error) {
          this.log(`dataCall.activate(${id}): ${error instanceof ModemError ? error.message : String(error)}`);
          return -1;
        }
      }
      case 'datacall_deactivate':
        modem.deactivate(int(args[0], 'profileID'));
        return 0;
      case 'sim_status':
        return SIM_STATUS[modem.sim];
      case 'csq':
        return modem.sim !== 'ready' ? -1 : modem.registered ? modem.csq : 99;
      case 'identity':
        return { firmware: profile.firmware, imei: profile.imei, model: profile.model };
      case 'uname': {
        const q = profile.quecpython;
        return [
          `sysname=${q.sysname ?? profile.model}`,
          `nodename=${q.nodename ?? profile.product}`,
          `release=${q.release}`,
          `version=${q.unameVersion ?? `${q.version} on ${q.buildDate}`}`,
          `machine=${q.machine ?? `${profile.product} with QUECTEL`}`,
          `qpyver=${q.qpyver}`,
        ];
      }
      default:
        if (this.netBridge.handles(name)) return this.netBridge.call(name, args, signal);
        throw new BridgeError('OSError', `sim bridge: unknown call ${name}`);
    }
  }

  /** Board RTC reading in whole seconds since the board's epoch (as if UTC), the base of utime. */
  private rtcSeconds(): number {
    return Math.floor(this.modem.rtcReadingMs() / 1000) - this.epochS;
  }

  /** `(year, month, mday, hour, minute, second, weekday 0=Monday, yearday)` of a seconds count since the board's epoch. */
  private timeFields(seconds: number): number[] {
    const date = new Date((seconds + this.epochS) * 1000);
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth();
    const day = date.getUTCDate();
    const yearday = Math.floor((Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
    return [year, month + 1, day, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), (date.getUTCDay() + 6) % 7, yearday];
  }

  /** checkNet.wait_network_connected: `[stage, state]` once the SIM fails, the call is up, or the wait ends. */
  private async waitNet(timeoutMs: number, signal: AbortSignal): Promise<number[]> {
    const { modem } = this;
    const startedMs = performance.now();
    for (;;) {
      if (modem.sim !== 'ready') return [1, SIM_STATUS[modem.sim]];
      const callUp = [...modem.contexts.values()].some((context) => context.active);
      if (modem.registered && callUp) return [3, 1];
      if (performance.now() - startedMs >= timeoutMs || signal.aborted) {
        return modem.registered ? [3, 0] : [2, REG_STAT[modem.network]];
      }
      await sleep(NET_POLL_MS, signal);
    }
  }

  private contextInfo(profileId: number, ipType: number): unknown {
    if (profileId < 1 || profileId > MAX_PROFILE_ID) return -1;
    const context = this.modem.contexts.get(profileId);
    const active = context?.active ?? false;
    const dns = this.profile.dns;
    const v4 = active ? [1, 0, context?.address ?? '0.0.0.0', dns[0] ?? '0.0.0.0', dns[1] ?? '0.0.0.0'] : [0, 0, '0.0.0.0', '0.0.0.0', '0.0.0.0'];
    if (ipType === 2) return [profileId, ipType, v4, [0, 0, '::', '::', '::']];
    return [profileId, ipType, v4];
  }
}
