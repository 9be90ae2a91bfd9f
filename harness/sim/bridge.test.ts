import { describe, expect, it } from 'vitest';
import { BridgeError, QuecPythonBridge } from './bridge.js';
import { ModemModel } from './modem.js';
import { parseBoardProfile, type BoardProfileInput } from './profile.js';
import { EC200U_PROFILE } from '../testing/sim-at.js';

const PROFILE: BoardProfileInput = { ...EC200U_PROFILE, dialDelay: 0 };

/** A bridge over a fresh modem; `net` records what reaches the socket bridge. */
function bridgeFor(input: Partial<BoardProfileInput> = {}): { bridge: QuecPythonBridge; modem: ModemModel; net: string[]; logs: string[] } {
  const profile = parseBoardProfile({ ...PROFILE, ...input });
  const modem = new ModemModel(profile);
  const net: string[] = [];
  const logs: string[] = [];
  const netBridge = {
    handles: (name: string) => name.startsWith('usock_'),
    call: (name: string) => {
      net.push(name);
      return Promise.resolve('from net');
    },
  };
  return { bridge: new QuecPythonBridge(modem, profile, netBridge, (line) => logs.push(line)), modem, net, logs };
}

const signal = new AbortController().signal;

async function failure(promise: Promise<unknown>): Promise<BridgeError> {
  const error: unknown = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof BridgeError)) throw new Error(`expected a BridgeError, got ${String(error)}`);
  return error;
}

describe('QuecPythonBridge', () => {
  it('refuses an unknown call as an OSError naming it, and hands usock_* calls to the socket bridge', async () => {
    const { bridge, net } = bridgeFor();
    const error = await failure(bridge.call('no_such_call', [], signal));
    expect(error.kind).toBe('OSError');
    expect(error.message).toBe('sim bridge: unknown call no_such_call');
    await expect(bridge.call('usock_send', [1, ''], signal)).resolves.toBe('from net');
    expect(net).toEqual(['usock_send']);
  });

  it('raises TypeError for an argument that is not an int, naming the argument', async () => {
    const { bridge } = bridgeFor();
    for (const [name, args, what] of [
      ['set_tz', ['8'], 'offset'],
      ['set_tz', [1.5], 'offset'],
      ['localtime', [1.5], 'secs'],
      ['datacall_info', [1, null], 'ipType'],
      ['datacall_activate', ['1'], 'profileID'],
      ['mktime', [[2024, 1, 1, 0, 'x', 0]], 'field 4'],
    ] as const) {
      const error = await failure(bridge.call(name, [...args], signal));
      expect([name, error.kind, error.message]).toEqual([name, 'TypeError', `${what} must be an int`]);
    }
    const short = await failure(bridge.call('mktime', [[2024, 1, 1]], signal));
    expect([short.kind, short.message]).toEqual(['TypeError', 'mktime needs a tuple of at least 6 ints']);
  });

  it('answers out-of-range data call arguments with -1, as QuecPython does, not an exception', async () => {
    const { bridge } = bridgeFor();
    await expect(bridge.call('datacall_info', [0, 0], signal)).resolves.toBe(-1);
    await expect(bridge.call('datacall_info', [8, 0], signal)).resolves.toBe(-1);
    await expect(bridge.call('datacall_set', [1, 3, 'apn', '', '', 0], signal)).resolves.toBe(-1);
    await expect(bridge.call('datacall_set', [1, 0, 'apn', '', '', 3], signal)).resolves.toBe(-1);
    await expect(bridge.call('datacall_set', [1, 0, 'apn', '', '', 0], signal)).resolves.toBe(0);
  });

  it('counts utime from the profile epoch and keeps mktime the inverse of localtime in the set zone', async () => {
    const from2000 = bridgeFor().bridge;
    const from1970 = bridgeFor({ epoch: 1970 }).bridge;
    await expect(from2000.call('gmtime', [0], signal)).resolves.toEqual([2000, 1, 1, 0, 0, 0, 5, 1]);
    await expect(from1970.call('gmtime', [0], signal)).resolves.toEqual([1970, 1, 1, 0, 0, 0, 3, 1]);
    await from2000.call('set_tz', [2], signal);
    const fields = (await from2000.call('localtime', [1_000_000], signal)) as number[];
    await expect(from2000.call('mktime', [fields], signal)).resolves.toBe(1_000_000);
  });

  it('logs a refused dial and answers -1', async () => {
    const { bridge, modem, logs } = bridgeFor();
    modem.faults.dialRefused = true;
    await expect(bridge.call('datacall_activate', [1], signal)).resolves.toBe(-1);
    expect(logs).toEqual(['dataCall.activate(1): PDP activation refused by the network']);
  });

  it('lets a Ctrl-C cut short the calls that wait, and only those', () => {
    for (const name of ['sleep', 'ntp_settime', 'wait_net', 'datacall_activate', 'stdin', 'usock_connect', 'usock_recv']) {
      expect([name, QuecPythonBridge.isInterruptible(name)]).toEqual([name, true]);
    }
    for (const name of ['time', 'localtime', 'set_tz', 'datacall_set', 'kbd_intr', 'usock_send', 'usock_close', 'no_such_call']) {
      expect([name, QuecPythonBridge.isInterruptible(name)]).toEqual([name, false]);
    }
  });

  it('ends a checkNet wait at once when aborted', async () => {
    const { bridge, modem } = bridgeFor({ network: 'searching' });
    expect(modem.registered).toBe(false);
    const abort = new AbortController();
    abort.abort();
    await expect(bridge.call('wait_net', [60], abort.signal)).resolves.toEqual([2, 2]);
  });
});
