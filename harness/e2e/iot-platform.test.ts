/**
 * The IoT platform sync end to end on the simulated board: real MQTT 3.1.1 over loopback TCP from the
 * board's umqtt to the embedded aedes platform or to a real mosquitto, the four timestamps recorded,
 * and each way the platform can let the board down classed as the environment's ERROR.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { BoardSpec, RunResult, Scenario, StepResult } from '../core/model.js';
import { findMosquitto, startLocalMosquitto } from '../platform/mosquitto.js';
import { parsePlatformFault, startPlatform, type PlatformOptions } from '../platform/platform.js';
import { runScenarios } from '../runner/run.js';
import { loadScenario, parseScenarioText } from '../runner/scenario.js';
import { startSimWorld } from '../runner/sim-world.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEVICE = { productKey: 'a1e2e', deviceName: 'sim-1', deviceSecret: 'e2e-secret-value' };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function scenario(broker: string, extra = '', secret = DEVICE.deviceSecret): Scenario {
  return parseScenarioText(
    `
name: iot
timeout: 2m
steps:
  - dial: { via: repl }
  - sync: { method: iot-platform, broker: "${broker}", product-key: ${DEVICE.productKey}, device-name: ${DEVICE.deviceName}, secret: ${secret}${extra} }
  - read-time: { via: repl, as: t1 }
  - compare: { read: t1, timezone: 0, tolerance: 2s }
`,
    'iot.yaml',
  );
}

const board = (offsetMs: number): BoardSpec => ({ id: 'sim-1', sim: { profile: 'ec200u', offsetMs, faults: [] }, fields: {} });

async function run(s: Scenario, offsetMs = 0): Promise<{ result: RunResult; sync: StepResult; dir: string }> {
  const world = await startSimWorld([s]);
  cleanups.push(() => world.close());
  const dir = mkdtempSync(join(tmpdir(), 'qhil-e2e-iot-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const { result } = await runScenarios({ scenarios: [s], boards: [board(offsetMs)], outDir: dir, reference: world.reference, simHosts: world.hosts });
  const sync = result.boards[0]?.scenarios[0]?.steps[1];
  if (!sync) throw new Error(`no sync step in ${JSON.stringify(result.boards[0]?.scenarios[0])}`);
  return { result, sync, dir };
}

async function ownPlatform(options: PlatformOptions = {}): Promise<string> {
  const platform = await startPlatform({ devices: [DEVICE], ...options });
  cleanups.push(() => platform.close());
  return `127.0.0.1:${platform.port}`;
}

function resultText(dir: string): string {
  const [runDir] = readdirSync(dir);
  return readFileSync(join(dir, runDir ?? '', 'result.json'), 'utf8');
}

describe('sync: { method: iot-platform } on the simulated board', () => {
  it('runs the shipped scenario: a board 5 s off synced by the simulated world\'s platform; the four timestamps recorded, never the secret', async () => {
    process.env.QHIL_IOT_DEVICE_SECRET = DEVICE.deviceSecret;
    cleanups.push(async () => delete process.env.QHIL_IOT_DEVICE_SECRET);
    const { result, sync, dir } = await run(loadScenario(join(ROOT, 'scenarios', 'ntp-sync-iot-platform.yaml')), 5000);
    expect(result.outcome, JSON.stringify(sync)).toBe('PASS');
    const data = sync.data as Record<string, number>;
    for (const key of ['deviceSendTime', 'serverRecvTime', 'serverSendTime', 'deviceRecvTime', 'platformOffsetMs', 'roundTripMs']) expect(typeof data[key]).toBe('number');
    // The simulated EC200U keeps the network's local time (UTC+1) before a sync, plus the 5 s; its
    // ms clock counts from a whole second, so the offset is known to a second from its side.
    expect(-(data.platformOffsetMs ?? 0) - 3_600_000).toBeGreaterThan(3500);
    expect(-(data.platformOffsetMs ?? 0) - 3_600_000).toBeLessThan(6500);
    const compare = result.boards[0]?.scenarios[0]?.steps[3]?.measurements[0];
    expect(compare?.outcome).toBe('PASS');
    expect(Math.abs(compare?.value ?? 99_999)).toBeLessThan(2000);
    expect(resultText(dir)).not.toContain(DEVICE.deviceSecret);
  }, 60_000);

  it('syncs in String form too: the platform answers as asked', async () => {
    const { result, sync } = await run(scenario('iot.example', ', timestamp-type: string'));
    expect(result.outcome, sync.message).toBe('PASS');
    expect(sync.data.answeredType).toBe('string');
  }, 60_000);

  it.skipIf(!findMosquitto())('syncs through a real mosquitto, the platform answering as its client', async () => {
    const mosquitto = await startLocalMosquitto();
    cleanups.push(() => mosquitto.stop());
    await ownPlatform({ broker: mosquitto.url });
    const { result, sync } = await run(scenario(`127.0.0.1:${mosquitto.port}`), 5000);
    expect(result.outcome, sync.message).toBe('PASS');
  }, 60_000);

  it('ERRORs (the environment, CONNACK 4) when the platform refuses the sign-in', async () => {
    const broker = await ownPlatform();
    const { result, sync } = await run(scenario(broker, '', 'not-the-secret'));
    expect(sync).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(sync.message).toMatch(/refused the board's sign-in as sim-1&a1e2e: CONNACK 4 \(bad user name or password\)/);
    expect(result.exitCode).toBe(3);
  }, 60_000);

  const faults: [string, string, RegExp][] = [
    ['silent', ', answer-timeout: 1s', /did not answer the board's NTP request within 1\.00s \(a silent platform\)/],
    ['missing-key', '', /unusable NTP answer: the answer lacks serverRecvTime or serverSendTime/],
    ['non-numeric', '', /unusable NTP answer: a timestamp in the answer is not a number/],
    ['send-before-recv', '', /unusable NTP answer: serverSendTime is before serverRecvTime/],
    ['asymmetric-delay=2500ms', ', max-round-trip: 1s', /round trip took \d+ ms \(limit 1\.00s\)/],
  ];
  for (const [fault, extra, message] of faults) {
    it(`ERRORs, not FAILs, on a platform that is ${fault}`, async () => {
      const broker = await ownPlatform({ fault: parsePlatformFault(fault) });
      const { result, sync } = await run(scenario(broker, extra));
      expect(sync, JSON.stringify(sync)).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
      expect(sync.message).toMatch(message);
      expect(result.exitCode).toBe(3);
    }, 60_000);
  }

  it('passes with a platform that answers twice, using the first answer', async () => {
    const broker = await ownPlatform({ fault: parsePlatformFault('duplicate') });
    const { result, sync } = await run(scenario(broker));
    expect(result.outcome, sync.message).toBe('PASS');
    expect(sync.data.extraAnswers).toBe(1);
  }, 60_000);

  it('ERRORs on a platform whose clock is 3 s wrong: no FAIL for the board that copied it', async () => {
    const broker = await ownPlatform({ clockOffsetMs: 3000 });
    const { result, sync } = await run(scenario(broker));
    expect(sync).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(sync.message).toMatch(/the IoT platform's clock is wrong: \+(29|30)\d\d ±\d+ ms from the reference/);
    const clock = sync.data.platformClock as { lowMs: number; highMs: number };
    expect(clock.lowMs).toBeLessThanOrEqual(3000);
    expect(clock.highMs).toBeGreaterThanOrEqual(3000);
    expect(sync.data.rtcSet).toBe(false);
    expect(sync.message).toMatch(/the board's clock was left as it was$/);
    expect(result.outcome).toBe('ERROR');
  }, 60_000);
});
