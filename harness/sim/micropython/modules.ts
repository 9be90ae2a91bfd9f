/**
 * QuecPython-compatible modules for the simulated board's MicroPython VM, as Python source. They are
 * written into the VM's filesystem as `/qsim/_qs_<name>.py`, imported once at boot and installed in
 * `sys.modules` under their QuecPython names: `import utime` would otherwise find MicroPython's own
 * `time` through its u-prefix weak link before any file on sys.path (measured with v1.27.0).
 *
 * Everything that touches the board (RTC, SIM, network, data calls, NTP, sleeping) goes through one
 * JS function, `_qsim.call(name, limit_ms, args_json)`, which blocks the VM until the board worker
 * answers (see vm-worker.ts). The answer is JSON: `{"v": value}`, `{"e": [kind, message]}` or
 * `{"i": 1}` when a Ctrl-C from the host interrupted the wait (raised here as KeyboardInterrupt).
 *
 * The time model (consistent with quectel.md and the NTP application note): the modem RTC holds a
 * wall-clock reading with no zone. `utime.time()` is that reading in seconds since the profile's epoch
 * (2000-01-01 by default, as MicroPython and QuecPython count; 1970 if the profile says so), taken as UTC;
 * `utime.localtime()` is the reading plus `utime.setTimeZone()` hours (default 0). At power-on the RTC
 * holds the network's local time; `ntptime.settime(tz)` sets it to the server's UTC plus `tz` hours,
 * so afterwards `localtime()` reads UTC, as the application note shows. The firmware's built-in UTC+8
 * shift in `localtime(secs)`/`mktime` is UNCONFIRMED and not modelled: `mktime(localtime(s)) == s`.
 */

const BRIDGE = `
import _qsim, json

def call(name, limit_ms, *args):
    r = json.loads(_qsim.call(name, limit_ms, json.dumps(args)))
    if 'i' in r:
        raise KeyboardInterrupt
    if 'e' in r:
        kind, message = r['e']
        if kind == 'ValueError':
            raise ValueError(message)
        if kind == 'TypeError':
            raise TypeError(message)
        raise OSError(message)
    return r.get('v')
`;
import { FIRMWARE_NTP_FALLBACKS, FIRMWARE_NTP_HOST } from '../ntp-hosts.js';
import { LAZY_LOADER } from './lazy-modules.js';
import { NET_MODULES } from './umqtt.js';

const UTIME = `
from _qsimb import call

_QUICK = 5000

def time():
    return call('time', _QUICK)

def localtime(secs=None):
    return tuple(call('localtime', _QUICK, secs))

def gmtime(secs=None):
    return tuple(call('gmtime', _QUICK, secs))

def mktime(t):
    return call('mktime', _QUICK, list(t))

def ticks_ms():
    return call('ticks_ms', _QUICK)

def ticks_us():
    return call('ticks_us', _QUICK)

def ticks_cpu():
    return call('ticks_us', _QUICK)

def ticks_diff(end, start):
    return ((end - start + 0x20000000) & 0x3FFFFFFF) - 0x20000000

def ticks_add(ticks, delta):
    return (ticks + delta) & 0x3FFFFFFF

def sleep_ms(ms):
    call('sleep', ms + _QUICK, ms)

def sleep_us(us):
    call('sleep', us // 1000 + _QUICK, us / 1000)

def sleep(seconds):
    call('sleep', int(seconds * 1000) + _QUICK, seconds * 1000)

def setTimeZone(offset):
    if not isinstance(offset, int) or offset < -12 or offset > 12:
        raise ValueError('invalid timezone')
    call('set_tz', _QUICK, offset)

def getTimeZone():
    return call('get_tz', _QUICK)
`;

/**
 * ntptime as the profile's generation has it (profile.ts `ntptime`, quectel.md). Each server is one
 * `ntp_settime` bridge call, which sets the RTC to the server's whole seconds (the firmware drops the
 * fraction); `timeout` is per server, None meaning the profile's ntpTimeout.
 */
const NTPTIME = `
from _qsimb import call

host = '${FIRMWARE_NTP_HOST}'
_FALLBACK = (${FIRMWARE_NTP_FALLBACKS.map((name) => `'${name}'`).join(', ')})
_GENERATION = call('ntptime_generation', 5000)

def sethost(h):
    global host
    if not isinstance(h, str) or not h:
        return -1
    host = h
    return 0

def _try(h, timezone, timeout_ms=None):
    return call('ntp_settime', 600000 if timeout_ms is None else timeout_ms + 5000, h, timezone, timeout_ms)

if _GENERATION == 'core':
    # ports/quectel/core/ntptime.py: no timezone argument; the fall-backs overwrite host.
    def settime():
        global host
        if _try(host, 0):
            return 0
        for h in _FALLBACK:
            host = h
            if _try(host, 0):
                return 0
        raise OSError('Server connection failed!')
elif _GENERATION == 'unirtos':
    # UniRTOS: every failure is -1, and host is restored after the fall-backs.
    def settime(timezone=0, use_rhost=1, timeout=None):
        global host
        if not isinstance(timezone, int) or timezone < -12 or timezone > 12:
            return -1
        own = host
        limit = None if timeout is None else int(timeout * 1000)
        try:
            if _try(host, timezone, limit):
                return 0
            if use_rhost:
                for h in _FALLBACK:
                    if _try(h, timezone, limit):
                        return 0
            return -1
        except OSError:
            return -1
        finally:
            host = own
else:
    # ports/quectel/py/ntptime.py: -1 for a bad zone, OSError when no server answers.
    def settime(timezone=0):
        global host
        if not isinstance(timezone, int) or timezone < -12 or timezone > 12:
            return -1
        if _try(host, timezone):
            return 0
        for h in _FALLBACK:
            host = h
            if _try(host, timezone):
                return 0
        raise OSError('Server connection failed!')
`;

const DATACALL = `
from _qsimb import call

_QUICK = 5000

def getInfo(profileID, ipType):
    r = call('datacall_info', _QUICK, profileID, ipType)
    if r == -1:
        return -1
    return tuple(r)

def setPDPContext(profileID, ipType, apn, username, password, authType):
    return call('datacall_set', _QUICK, profileID, ipType, apn, username, password, authType)

def activate(profileID):
    return call('datacall_activate', 180000, profileID)

def deactivate(profileID):
    return call('datacall_deactivate', _QUICK, profileID)

def start(profileIdx, ipType, apn, username, password, authType):
    r = setPDPContext(profileIdx, ipType, apn, username, password, authType)
    if r != 0:
        return r
    return activate(profileIdx)
`;

const CHECKNET = `
from _qsimb import call

def wait_network_connected(timeout=60):
    return tuple(call('wait_net', int(timeout) * 1000 + 5000, timeout))

class CheckNetwork:
    def __init__(self, project_name='', project_version=''):
        self.project_name = project_name
        self.project_version = project_version

    def poweron_print_once(self):
        pass

    def wait_network_connected(self, timeout=60):
        return wait_network_connected(timeout)
`;

const SIM = `
from _qsimb import call

def getStatus():
    return call('sim_status', 5000)
`;

const NET = `
from _qsimb import call

def csqQueryPoll():
    return call('csq', 5000)
`;

const MODEM = `
from _qsimb import call

def getDevFwVersion():
    return call('identity', 5000)['firmware']

def getDevImei():
    return call('identity', 5000)['imei']

def getDevModel():
    return call('identity', 5000)['model']
`;

// uos (and os, open, input): the board's filesystem and port input, see uos.ts.
import { UOS } from './uos.js';

const USYS = `
from sys import *
`;

/** QuecPython name -> Python source. `_qsimb` (the bridge) must come first: the others import it. */
export const QUECPYTHON_MODULES: ReadonlyArray<readonly [name: string, source: string]> = [
  ['_qsimb', BRIDGE + LAZY_LOADER],
  ['utime', UTIME],
  ['ntptime', NTPTIME],
  ['dataCall', DATACALL],
  ['checkNet', CHECKNET],
  ['sim', SIM],
  ['net', NET],
  ['modem', MODEM],
  ['uos', UOS],
  ['usys', USYS],
  ...NET_MODULES,
];

/**
 * QuecPython is built without MicroPython's weak links, so `import time` may fail on a board
 * (quectel.md). The sim makes it fail, so a harness that relies on it fails here first: this file
 * goes to /lib/time.py, which shadows the built-in (`time` is extensible in v1.27.0) once the PyScript
 * build's `.frozen` entry (its own time.py, asyncio...; nothing QuecPython has) is off sys.path.
 */
export const TIME_BLOCKER = `raise ImportError("no module named 'time'")\n`;

/** The Python source of one of the modules above, by QuecPython name. */
export const MODULE_SOURCES: ReadonlyMap<string, string> = new Map(QUECPYTHON_MODULES);

/**
 * Python run once per VM boot: imports every module's file (written beforehand by board-vm.ts: the
 * real source for the eager ones, a stub for the others, see lazy-modules.ts) as `_qs_<name>` and
 * installs it in `sys.modules` under its QuecPython name.
 */
export function installerSource(): string {
  const names = QUECPYTHON_MODULES.map(([name]) => name);
  return [
    'import sys',
    "sys.path.insert(0, '/qsim')",
    ...names.map((name) => `import _qs_${name}\nsys.modules['${name}'] = _qs_${name}\ndel _qs_${name}`),
    'sys.path.pop(0)',
    "if '.frozen' in sys.path:\n    sys.path.remove('.frozen')",
    "for _k in [k for k in sys.modules if k.startswith('_qs_')]:\n    del sys.modules[_k]",
    'del _k',
    'del sys',
  ].join('\n');
}
