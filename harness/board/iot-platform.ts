/**
 * The IoT platform's NTP over MQTT, run on a QuecPython board over its REPL (seeds 002, 004): the
 * board signs in with `umqtt.MQTTClient`, subscribes to its response topic, publishes
 * `{"deviceSendTime": ...}` from its own ms clock, takes deviceRecvTime when the answer arrives,
 * computes (serverRecvTime + serverSendTime + deviceRecvTime - deviceSendTime) / 2 and sets its RTC
 * with `machine.RTC().datetime(...)` on the next whole second (the RTC keeps whole seconds).
 *
 * The sign-in password is computed here, on the host, so the device secret never goes to the board
 * or into its transcript; the transcript holds the client id, user name and that password.
 *
 * The exchange runs in its own exec, so the host's send and receive times around it bracket the
 * platform's two timestamps closely: that bracket is what tells whether the platform's clock is right.
 */
import { BoardError } from '../core/errors.js';
import type { PyValue } from '../channel/repl/pyliteral.js';
import { pythonStringLiteral, type ReplChannel } from '../channel/repl/repl.js';
import { quoteBoardText } from '../channel/text.js';

export interface PlatformSyncOptions {
  host: string;
  port: number;
  productKey: string;
  deviceName: string;
  /** The MQTT CONNECT fields, signed on the host (platform/signin.ts). */
  clientId: string;
  username: string;
  password: string;
  keepaliveS: number;
  /** How the board writes deviceSendTime: a JSON number (Long, the default) or a string. */
  timestampType: 'long' | 'string';
  /** QuecPython `ntptime.settime(timezone)`'s meaning: the RTC is set to UTC plus this many hours. */
  timezoneHours: number;
  /** How long the board waits for the platform's answer. */
  answerTimeoutMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Asked with the exchange before the RTC is set: false leaves the board's clock alone (a platform
   * whose clock is wrong must not make the board wrong too). Throwing ends the sync with that error.
   */
  approve?: (exchange: PlatformExchangeResult) => boolean;
}

/** Why a platform sync did not give a time, as the board saw it. */
export type PlatformSyncFailure =
  | { stage: 'network'; detail: string }
  | { stage: 'refused'; connack: number; detail: string }
  | { stage: 'no-answer'; waitedMs: number }
  | { stage: 'invalid'; problem: 'missing-key' | 'non-numeric' | 'send-before-recv' | 'not-json'; detail: string; payload: string };

export interface PlatformExchangeResult {
  ok: true;
  /** The four timestamps under the platform's names: board ms clock (device*) and platform clock (server*). */
  deviceSendTime: number;
  serverRecvTime: number;
  serverSendTime: number;
  deviceRecvTime: number;
  /** The type the platform answered in. */
  answeredType: 'long' | 'string';
  /** What the board computed with the seeds' formula, platform ms at deviceRecvTime. */
  computedMs: number;
  /** Host wall-clock ms around the exchange's exec. */
  hostSendMs: number;
  hostReceiveMs: number;
  /** Answers the board saw for its request beyond the first (a platform that answers twice). */
  extraAnswers: number;
  /** False when `approve` said no: the RTC was left as it was. */
  rtcSet: boolean;
  /** The whole second the RTC was set to (as UTC + timezone), and what the RTC read right after. */
  rtcSetTo: number[];
  rtcAfter: number[];
}

export type PlatformSyncResult = PlatformExchangeResult | ({ ok: false } & PlatformSyncFailure);

// Board-side code. Everything the board answers is printed as one repr'd dict on the last line.
const SETUP = (o: PlatformSyncOptions): string => `
import utime, ujson, machine
from umqtt import MQTTClient
class _QhilIot:
    pass
_q = _QhilIot()
_q.E = 946684800 if utime.gmtime(0)[0] == 2000 else 0
_q.base_s = utime.time()
_q.base_k = utime.ticks_ms()
_q.got = []
def _q_now():
    return (_q.base_s + _q.E) * 1000 + utime.ticks_diff(utime.ticks_ms(), _q.base_k)
def _q_cb(topic, msg):
    _q.got.append((_q_now(), utime.ticks_ms(), msg))
_q.now = _q_now
r = {}
try:
    _q.c = MQTTClient(${pythonStringLiteral(o.clientId)}, ${pythonStringLiteral(o.host)}, ${o.port}, ${pythonStringLiteral(o.username)}, ${pythonStringLiteral(o.password)}, ${Math.trunc(o.keepaliveS)})
    _q.c.set_callback(_q_cb)
    _q.c.connect()
    _q.c.subscribe(${pythonStringLiteral(`/ext/ntp/${o.productKey}/${o.deviceName}/response`)})
    r['ok'] = 1
except Exception as e:
    r['error'] = type(e).__name__
    r['args'] = [str(a) for a in e.args]
print(repr(r))
`;

const EXCHANGE = (o: PlatformSyncOptions): string => `
r = {}
_q.got = []
dst = _q.now()
_q.dst = dst
_q.c.publish(${pythonStringLiteral(`/ext/ntp/${o.productKey}/${o.deviceName}/request`)}, ${
  o.timestampType === 'string' ? `'{"deviceSendTime":"%d"}' % dst` : `'{"deviceSendTime":%d}' % dst`
})
_end = utime.ticks_add(utime.ticks_ms(), ${Math.trunc(o.answerTimeoutMs)})
_ans = None
while _ans is None:
    try:
        _q.c.check_msg()
    except Exception as e:
        r['network'] = '%s: %s' % (type(e).__name__, e)
        break
    while _q.got and _ans is None:
        _t, _k, _m = _q.got.pop(0)
        try:
            _j = ujson.loads(_m)
        except Exception:
            r['invalid'] = 'not-json'
            r['payload'] = str(_m[:200])
            break
        if not isinstance(_j, dict) or str(_j.get('deviceSendTime')) != str(dst):
            continue
        _ans = (_t, _k, _j)
    if 'invalid' in r or 'network' in r or _ans is not None:
        break
    if utime.ticks_diff(_end, utime.ticks_ms()) <= 0:
        r['no_answer_ms'] = ${Math.trunc(o.answerTimeoutMs)}
        break
    utime.sleep_ms(1)
if _ans is not None:
    drt, _q.k_recv, _j = _ans
    r['payload'] = str(ujson.dumps(_j)[:200])
    if 'serverRecvTime' not in _j or 'serverSendTime' not in _j:
        r['invalid'] = 'missing-key'
    else:
        try:
            srt = int(_j['serverRecvTime'])
            sst = int(_j['serverSendTime'])
        except Exception:
            srt = None
            r['invalid'] = 'non-numeric'
        if srt is not None and sst < srt:
            r['invalid'] = 'send-before-recv'
        elif srt is not None:
            _q.t = (srt + sst + drt - dst) // 2
            r['times'] = [dst, srt, sst, drt]
            r['type'] = 'string' if isinstance(_j['serverRecvTime'], str) else 'long'
            r['computed'] = _q.t
print(repr(r))
`;

// The RTC keeps whole seconds: wait (sleep, then spin on ticks) for the platform's next whole second
// and set it then, so the board is off by the spin's grain, not by up to a second.
const SET_RTC = (o: PlatformSyncOptions): string => `
r = {}
_el = utime.ticks_diff(utime.ticks_ms(), _q.k_recv)
_now = _q.t + _el
_wait = 1000 - _now % 1000
_goal = utime.ticks_add(_q.k_recv, _el + _wait)
if _wait > 20:
    utime.sleep_ms(_wait - 10)
while utime.ticks_diff(_goal, utime.ticks_ms()) > 0:
    pass
_s = (_now + _wait) // 1000 - _q.E + ${Math.trunc(o.timezoneHours) * 3600}
_g = utime.gmtime(_s)
machine.RTC().datetime((_g[0], _g[1], _g[2], _g[6], _g[3], _g[4], _g[5], 0))
r['set'] = list(_g[:6])
r['after'] = list(utime.localtime()[:6])
_x = 0
# A duplicate answer is published right after the first, but may still be on its way: wait for it a
# little (one message or 250 ms), then take whatever else is already there.
try:
    _q.c.sock.settimeout(0.25)
    _q.c.wait_msg()
except Exception:
    pass
for _i in range(4):
    try:
        if _q.c.check_msg() is None:
            break
    except Exception:
        break
for _t, _k, _m in _q.got:
    if str(_q.dst) in str(_m):
        _x += 1
r['extra'] = _x
print(repr(r))
`;

const TEARDOWN = `
try:
    _q.c.disconnect()
except Exception:
    pass
try:
    del _q
except NameError:
    pass
print(1)
`;

/** Runs the whole sync on the board; a board that answers out of shape is its own fault (BoardError). */
export async function syncOverPlatform(repl: ReplChannel, options: PlatformSyncOptions): Promise<PlatformSyncResult> {
  const endsAtMonoMs = performance.now() + options.timeoutMs;
  const left = (): number => Math.max(1, endsAtMonoMs - performance.now());
  const run = async (code: string, what: string): Promise<Map<unknown, PyValue>> => {
    const { stdout } = await repl.exec(code, { timeoutMs: left(), signal: options.signal });
    const value = repl.parseAnswer(stdout, what);
    if (!(value instanceof Map)) throw new BoardError(`garbled reply: ${what} printed ${quoteBoardText(stdout.trim())}, expected a dict`);
    return value;
  };
  try {
    const setup = await run(SETUP(options), 'umqtt sign-in');
    if (setup.get('ok') !== 1) {
      const kind = String(setup.get('error'));
      const args = (Array.isArray(setup.get('args')) ? (setup.get('args') as PyValue[]) : []).map(String);
      const code = Number(args[0]);
      if (kind === 'MQTTException' && Number.isInteger(code)) return { ok: false, stage: 'refused', connack: code, detail: args.join(' ') };
      return { ok: false, stage: 'network', detail: `${kind}${args.length > 0 ? `: ${args.join(' ')}` : ''}` };
    }
    const hostSendMs = Date.now();
    const exchange = await run(EXCHANGE(options), 'the NTP exchange');
    const hostReceiveMs = Date.now();
    const payload = String(exchange.get('payload') ?? '');
    const invalid = exchange.get('invalid');
    if (typeof invalid === 'string') {
      return { ok: false, stage: 'invalid', problem: invalid as 'missing-key', detail: INVALID_MEANING[invalid] ?? invalid, payload };
    }
    if (exchange.has('network')) return { ok: false, stage: 'network', detail: `the broker connection failed while waiting: ${String(exchange.get('network'))}` };
    if (exchange.has('no_answer_ms')) return { ok: false, stage: 'no-answer', waitedMs: Number(exchange.get('no_answer_ms')) };
    const times = exchange.get('times');
    const computed = exchange.get('computed');
    if (!Array.isArray(times) || times.length !== 4 || !times.every((t) => typeof t === 'number' || typeof t === 'bigint') || (typeof computed !== 'number' && typeof computed !== 'bigint')) {
      throw new BoardError(`garbled reply: the NTP exchange gave ${quoteBoardText(String(exchange.get('times')))}`);
    }
    const [deviceSendTime, serverRecvTime, serverSendTime, deviceRecvTime] = times.map(Number) as [number, number, number, number];
    const measured: PlatformExchangeResult = {
      ok: true,
      deviceSendTime,
      serverRecvTime,
      serverSendTime,
      deviceRecvTime,
      answeredType: exchange.get('type') === 'string' ? 'string' : 'long',
      computedMs: Number(computed),
      hostSendMs,
      hostReceiveMs,
      extraAnswers: 0,
      rtcSet: false,
      rtcSetTo: [],
      rtcAfter: [],
    };
    if (options.approve && !options.approve(measured)) return measured;
    const set = await run(SET_RTC(options), 'setting the RTC');
    return {
      ...measured,
      rtcSet: true,
      extraAnswers: Number(set.get('extra') ?? 0),
      rtcSetTo: (Array.isArray(set.get('set')) ? (set.get('set') as PyValue[]) : []).map(Number),
      rtcAfter: (Array.isArray(set.get('after')) ? (set.get('after') as PyValue[]) : []).map(Number),
    };
  } finally {
    // Sign out whatever happened, so the next sign-in of this device is not refused as a second session.
    await repl.exec(TEARDOWN, { timeoutMs: Math.min(5000, left()), signal: options.signal }).catch(() => undefined);
  }
}

const INVALID_MEANING: Readonly<Record<string, string>> = {
  'missing-key': 'the answer lacks serverRecvTime or serverSendTime',
  'non-numeric': 'a timestamp in the answer is not a number',
  'send-before-recv': 'serverSendTime is before serverRecvTime',
  'not-json': 'the answer is not JSON',
};
