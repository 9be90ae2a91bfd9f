import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { findMosquitto, startLocalMosquitto } from './mosquitto.js';
import { parsePlatformFault, startPlatform, type SimulatedPlatform } from './platform.js';
import { deviceSignIn } from './signin.js';

const device = { productKey: 'a1pk', deviceName: 'dev-1', deviceSecret: 's3cret' };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function platform(options: Parameters<typeof startPlatform>[0] = {}): Promise<SimulatedPlatform> {
  const p = await startPlatform({ devices: [device], ...options });
  cleanups.push(() => p.close());
  return p;
}

async function signedIn(url: string, secret = device.deviceSecret): Promise<MqttClient> {
  const signIn = deviceSignIn({ ...device, deviceSecret: secret }, { method: 'hmacsha256', timestampMs: Date.now() });
  const client = await connectAsync(url, { ...signIn, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, keepalive: 60 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

/** Sends one request and collects what arrives on the response topic within `windowMs`. */
async function exchange(client: MqttClient, request: string, windowMs = 300, firstWithinMs = 5000): Promise<string[]> {
  const answers: string[] = [];
  client.on('message', (_topic, payload) => answers.push(payload.toString()));
  await client.subscribeAsync(`/ext/ntp/${device.productKey}/${device.deviceName}/response`, { qos: 0 });
  await client.publishAsync(`/ext/ntp/${device.productKey}/${device.deviceName}/request`, request, { qos: 0 });
  const deadline = Date.now() + firstWithinMs;
  while (answers.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  return answers;
}

describe('the simulated IoT platform (embedded broker)', () => {
  it('answers in the type asked, deviceSendTime echoed, its stamps from the host clock plus its offset', async () => {
    const p = await platform({ clockOffsetMs: 3000 });
    const client = await signedIn(p.url);
    const before = Date.now();
    const [long] = await exchange(client, '{"deviceSendTime":1571724098000}', 0);
    expect(long).toMatch(/^\{"deviceSendTime":1571724098000,"serverRecvTime":\d+,"serverSendTime":\d+\}$/);
    const fields = JSON.parse(long ?? '{}') as { serverRecvTime: number; serverSendTime: number };
    expect(fields.serverRecvTime - before).toBeGreaterThanOrEqual(3000);
    expect(fields.serverRecvTime - Date.now()).toBeLessThanOrEqual(3000);
    expect(fields.serverSendTime).toBeGreaterThanOrEqual(fields.serverRecvTime);
    client.removeAllListeners('message');
    const [text] = await exchange(client, '{"deviceSendTime":"100"}', 0);
    expect(text).toMatch(/^\{"deviceSendTime":"100","serverRecvTime":"\d+","serverSendTime":"\d+"\}$/);
  });

  it('refuses a wrong secret with CONNACK 4', async () => {
    const p = await platform();
    const error = await signedIn(p.url, 'wrong').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 4 });
  });

  it('does not let a device publish to another device topic', async () => {
    const p = await platform({ devices: [device, { ...device, deviceName: 'dev-2' }] });
    const client = await signedIn(p.url);
    await client.publishAsync(`/ext/ntp/${device.productKey}/dev-2/request`, '{"deviceSendTime":1}', { qos: 0 }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(p.exchanges).toHaveLength(0);
  });

  it('misbehaves as each fault says', async () => {
    const p = await platform();
    const client = await signedIn(p.url);
    const cases: [string, (answers: string[]) => void][] = [
      ['silent', (a) => expect(a).toEqual([])],
      ['missing-key', (a) => expect(a[0]).not.toContain('serverSendTime')],
      ['non-numeric', (a) => expect(JSON.parse(a[0] ?? '{}')).toMatchObject({ serverRecvTime: 'not-a-time' })],
      ['send-before-recv', (a) => {
        const f = JSON.parse(a[0] ?? '{}') as { serverRecvTime: number; serverSendTime: number };
        expect(f.serverSendTime).toBeLessThan(f.serverRecvTime);
      }],
      ['duplicate', (a) => expect(a).toHaveLength(2)],
    ];
    for (const [fault, check] of cases) {
      p.fault = parsePlatformFault(fault);
      client.removeAllListeners('message');
      check(await exchange(client, '{"deviceSendTime":5}', fault === 'silent' ? 0 : 300, fault === 'silent' ? 1000 : 5000));
    }
    p.fault = parsePlatformFault('asymmetric-delay=400ms');
    client.removeAllListeners('message');
    const sentMs = Date.now();
    const [late] = await exchange(client, '{"deviceSendTime":5}', 0);
    const f = JSON.parse(late ?? '{}') as { serverSendTime: number };
    // Stamped before the hold: the delay is on the way back only.
    expect(Date.now() - sentMs).toBeGreaterThanOrEqual(400);
    expect(f.serverSendTime - sentMs).toBeLessThan(400);
  }, 30_000);
});

describe.skipIf(!findMosquitto())('the simulated IoT platform as a client of mosquitto', () => {
  it('answers devices on a real broker', async () => {
    const mosquitto = await startLocalMosquitto();
    cleanups.push(() => mosquitto.stop());
    const p = await platform({ broker: mosquitto.url });
    expect(p.mode).toBe('external');
    const client = await connectAsync(mosquitto.url, { clientId: 'dev', protocolVersion: 4, reconnectPeriod: 0 });
    cleanups.push(() => client.endAsync(true));
    const [answer] = await exchange(client, '{"deviceSendTime":"42"}', 0);
    expect(answer).toMatch(/^\{"deviceSendTime":"42","serverRecvTime":"\d+","serverSendTime":"\d+"\}$/);
  }, 30_000);
});
