import { describe, expect, it } from 'vitest';
import { formatNtpResponse, parseNtpRequest, parseRequestTopic, platformDeviceTimeMs, platformOffsetMs, requestTopic, responseTopic } from './ntp-message.js';

// The seeds' worked examples: 002 (device 100, server 1000, 10 ms each way, 5 ms in the server) and 004.
const SEED_002 = { deviceSendTime: 100, serverRecvTime: 1010, serverSendTime: 1015, deviceRecvTime: 125, now: 1025 };
const SEED_004 = { deviceSendTime: 1571724098000, serverRecvTime: 1571724098110, serverSendTime: 1571724098115, deviceRecvTime: 1571724098025, now: 1571724098125 };

describe('the platform NTP formula', () => {
  for (const [name, v] of [['seed 002', SEED_002], ['seed 004', SEED_004]] as const) {
    for (const form of ['long', 'string'] as const) {
      it(`gives the ${name} worked example from its ${form} form`, () => {
        const wire = formatNtpResponse({ deviceSendTime: String(v.deviceSendTime), serverRecvTime: String(v.serverRecvTime), serverSendTime: String(v.serverSendTime) }, form);
        const parsed = JSON.parse(wire) as Record<string, string | number>;
        expect(typeof parsed.serverRecvTime).toBe(form === 'long' ? 'number' : 'string');
        const time = platformDeviceTimeMs({
          deviceSendTime: BigInt(parsed.deviceSendTime ?? ''),
          serverRecvTime: BigInt(parsed.serverRecvTime ?? ''),
          serverSendTime: BigInt(parsed.serverSendTime ?? ''),
          deviceRecvTime: BigInt(v.deviceRecvTime),
        });
        expect(time).toBe(BigInt(v.now));
      });
    }
    it(`agrees with seed 003's theta on ${name}: deviceRecvTime + theta is the formula's time`, () => {
      const { thetaMs, delayMs } = platformOffsetMs(v);
      expect(v.deviceRecvTime + thetaMs).toBe(v.now);
      // 10 ms each way in both seeds.
      expect(delayMs).toBe(20);
    });
  }
});

describe('NTP requests and responses', () => {
  it('reads deviceSendTime in the type it came and echoes its digits exactly, beyond 2^53 too', () => {
    expect(parseNtpRequest('{"deviceSendTime":"1571724098000"}')).toEqual({ deviceSendTimeText: '1571724098000', type: 'string' });
    expect(parseNtpRequest('{"deviceSendTime":1571724098000}')).toEqual({ deviceSendTimeText: '1571724098000', type: 'long' });
    expect(parseNtpRequest('{ "deviceSendTime" : 9007199254740993 }')).toEqual({ deviceSendTimeText: '9007199254740993', type: 'long' });
    expect(formatNtpResponse({ deviceSendTime: '9007199254740993', serverRecvTime: '1', serverSendTime: '2' }, 'long')).toBe(
      '{"deviceSendTime":9007199254740993,"serverRecvTime":1,"serverSendTime":2}',
    );
    expect(formatNtpResponse({ deviceSendTime: '100', serverRecvTime: '1010', serverSendTime: '1015' }, 'string')).toBe(
      '{"deviceSendTime":"100","serverRecvTime":"1010","serverSendTime":"1015"}',
    );
  });

  it('refuses requests without a usable deviceSendTime', () => {
    for (const bad of ['not json', '{}', '{"deviceSendTime":"abc"}', '{"deviceSendTime":1.5}', '{"deviceSendTime":null}', `{"deviceSendTime":"${'1'.repeat(2000)}"}`]) {
      expect(parseNtpRequest(bad)).toHaveProperty('problem');
    }
  });

  it('names the topics as the platform does', () => {
    expect(requestTopic('pk', 'dn')).toBe('/ext/ntp/pk/dn/request');
    expect(responseTopic('pk', 'dn')).toBe('/ext/ntp/pk/dn/response');
    expect(parseRequestTopic('/ext/ntp/pk/dn/request')).toEqual({ productKey: 'pk', deviceName: 'dn' });
    expect(parseRequestTopic('/ext/ntp/pk/dn/response')).toBeUndefined();
  });
});
