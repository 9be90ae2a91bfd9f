import { describe, expect, it } from 'vitest';
import { BoardError } from '../core/errors.js';
import type { PlatformExchangeResult } from '../board/iot-platform.js';
import { judgeExchange, parseBroker, type IotPlatformSyncArgs } from './sync-iot-platform.js';
import { syncStep } from './sync.js';

const args = syncStep.schema.parse({ method: 'iot-platform', broker: 'iot.example', 'product-key': 'pk', 'device-name': 'dn', secret: 's' }) as IotPlatformSyncArgs;

/** An exchange on a board 5 s behind the platform, whose clock is the host's, 10 ms each way. */
function exchange(overrides: Partial<PlatformExchangeResult> = {}): PlatformExchangeResult {
  const hostSendMs = 1_800_000_000_000;
  const base = {
    ok: true as const,
    deviceSendTime: hostSendMs - 5000 + 5,
    serverRecvTime: hostSendMs + 15,
    serverSendTime: hostSendMs + 16,
    deviceRecvTime: hostSendMs - 5000 + 26,
    answeredType: 'long' as const,
    hostSendMs,
    hostReceiveMs: hostSendMs + 40,
    extraAnswers: 0,
    rtcSet: true,
    rtcSetTo: [2027, 1, 15, 8, 0, 0],
    rtcAfter: [2027, 1, 15, 8, 0, 0],
  };
  const computedMs = (base.serverRecvTime + base.serverSendTime + base.deviceRecvTime - base.deviceSendTime) / 2;
  return { ...base, computedMs: Math.floor(computedMs), ...overrides };
}

describe('judging a platform exchange', () => {
  it('passes a good exchange and records theta and the round trip', () => {
    const report = judgeExchange(exchange(), args, 0, 0.1);
    expect(report.outcome).toBeUndefined();
    expect(report.data).toMatchObject({ platformOffsetMs: 5000, roundTripMs: 20 });
  });

  it('FAILs a board that computed the time wrong, or whose RTC does not hold what it set', () => {
    expect(() => judgeExchange(exchange({ computedMs: exchange().computedMs + 1000 }), args, 0, 0.1)).toThrow(BoardError);
    expect(() => judgeExchange(exchange({ rtcAfter: [2027, 1, 15, 8, 0, 5] }), args, 0, 0.1)).toThrow(/set its RTC to 2027,1,15,8,0,0 but then read 2027,1,15,8,0,5/);
  });

  it('ERRORs, with the evidence kept, on a platform clock beyond its tolerance: against the reference, not the host', () => {
    const wrong = exchange({ serverRecvTime: exchange().serverRecvTime + 3000, serverSendTime: exchange().serverSendTime + 3000 });
    const fixed = { ...wrong, computedMs: Math.floor((wrong.serverRecvTime + wrong.serverSendTime + wrong.deviceRecvTime - wrong.deviceSendTime) / 2) };
    const report = judgeExchange(fixed, args, 0, 0.1);
    expect(report.outcome).toBe('ERROR');
    expect(report.message).toMatch(/IoT platform's clock is wrong: \+(29|30)\d\d/);
    // The host is 3 s behind UTC (the reference says so): then this platform is right.
    expect(judgeExchange(fixed, args, 3000, 0.1).outcome).toBeUndefined();
  });

  it('ERRORs on a round trip beyond max-round-trip', () => {
    const slow = exchange({ deviceRecvTime: exchange().deviceRecvTime + 4000, hostReceiveMs: exchange().hostReceiveMs + 4000 });
    const fixed = { ...slow, computedMs: Math.floor((slow.serverRecvTime + slow.serverSendTime + slow.deviceRecvTime - slow.deviceSendTime) / 2) };
    expect(judgeExchange(fixed, args, 0, 0.1)).toMatchObject({ outcome: 'ERROR', message: expect.stringMatching(/round trip took 4020 ms/) });
  });

  it('reads broker addresses', () => {
    expect(parseBroker('iot.example')).toEqual({ host: 'iot.example', port: 1883 });
    expect(parseBroker('mqtt://127.0.0.1:1884')).toEqual({ host: '127.0.0.1', port: 1884 });
    expect(parseBroker('[::1]:1885')).toEqual({ host: '::1', port: 1885 });
    expect(parseBroker('a b')).toBeUndefined();
  });

  it("checks each method's keys", () => {
    const base = { method: 'iot-platform', broker: 'x', 'product-key': 'pk', 'device-name': 'dn' };
    const issues = (input: object): string[] => {
      const parsed = syncStep.schema.safeParse(input);
      return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    expect(issues({ ...base, secret: 's' })).toEqual([]);
    expect(issues({ ...base, 'secret-env': 'QHIL_X' })).toEqual([]);
    expect(issues({ ...base, secret: 's', keepalive: '10s' })).toEqual(['keepalive: the platform takes 30s to 1200s']);
    expect(issues(base)).toEqual([expect.stringMatching(/^secret: method iot-platform needs the device secret/)]);
    expect(issues({ ...base, secret: 's', via: 'at', server: 'pool.ntp.org' }).sort()).toEqual([
      'server: method iot-platform talks to a broker: broker, not server',
      'via: method iot-platform runs over the REPL (umqtt): via: repl',
    ]);
    expect(issues({ server: 'pool.ntp.org', 'product-key': 'pk' })).toEqual(['product-key: product-key is for method: iot-platform']);
    expect(syncStep.schema.parse({ server: 'pool.ntp.org' })).toMatchObject({ method: 'ntp', via: 'repl', server: 'pool.ntp.org', timezone: 0 });
  });
});
