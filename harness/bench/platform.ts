/**
 * Bench for the IoT platform's NTP over MQTT: the host-side round trip of one NTP exchange (publish
 * the request, the response arrives) over the embedded aedes platform and over a real mosquitto with
 * the platform as its client; and |board offset after a platform sync| on the simulated board (its
 * RTC read straight from the modem model against the host clock, after a sync from 5 s off).
 * Run alone with `node dist/bench/platform.js` after `npm run build`.
 */
import { pathToFileURL } from 'node:url';
import { connectAsync } from 'mqtt';
import { syncOverPlatform } from '../board/iot-platform.js';
import { ReplBoardDriver } from '../board/repl.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { findMosquitto, startLocalMosquitto } from '../platform/mosquitto.js';
import { startPlatform } from '../platform/platform.js';
import { deviceSignIn } from '../platform/signin.js';
import { startSimBoard } from '../sim/board.js';
import { median, percentile, round } from './stats.js';

const DEVICE = { productKey: 'a1bench', deviceName: 'bench-1', deviceSecret: 'bench-secret' };
const EXCHANGES = 100;
const SYNCS = 10;
const ANSWER_TIMEOUT_MS = 5000;

/** Host monotonic ms from publishing a request to its response arriving, EXCHANGES times. */
async function roundTrips(url: string, signIn: { clientId: string; username?: string; password?: string }): Promise<number[]> {
  const client = await connectAsync(url, { ...signIn, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, keepalive: 60 });
  try {
    const response = `/ext/ntp/${DEVICE.productKey}/${DEVICE.deviceName}/response`;
    await client.subscribeAsync(response, { qos: 0 });
    const samplesMs: number[] = [];
    for (let i = 0; i < EXCHANGES; i++) {
      const sentAt = performance.now();
      const answered = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no NTP answer within ${ANSWER_TIMEOUT_MS}ms`)), ANSWER_TIMEOUT_MS);
        client.once('message', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await client.publishAsync(`/ext/ntp/${DEVICE.productKey}/${DEVICE.deviceName}/request`, `{"deviceSendTime":${Date.now()}}`, { qos: 0 });
      await answered;
      samplesMs.push(performance.now() - sentAt);
    }
    return samplesMs;
  } finally {
    await client.endAsync(true);
  }
}

function figures(prefix: string, samplesMs: number[]): Record<string, number> {
  return { [`${prefix} round trip, median ms`]: round(median(samplesMs)), [`${prefix} round trip, p90 ms`]: round(percentile(samplesMs, 90)) };
}

async function benchEmbedded(): Promise<Record<string, number>> {
  const platform = await startPlatform({ devices: [DEVICE] });
  try {
    return figures('embedded aedes', await roundTrips(platform.url, deviceSignIn(DEVICE, { method: 'hmacsha256', timestampMs: Date.now() })));
  } finally {
    await platform.close();
  }
}

async function benchMosquitto(): Promise<Record<string, number | string>> {
  if (!findMosquitto()) return { 'mosquitto round trip': 'skipped: mosquitto not installed' };
  const mosquitto = await startLocalMosquitto();
  try {
    const platform = await startPlatform({ broker: mosquitto.url });
    try {
      return figures('mosquitto + platform client', await roundTrips(mosquitto.url, { clientId: 'qhil-bench-device' }));
    } finally {
      await platform.close();
    }
  } finally {
    await mosquitto.stop();
  }
}

async function benchBoardOffset(): Promise<Record<string, number>> {
  const platform = await startPlatform({ devices: [DEVICE] });
  const board = await startSimBoard({ profile: 'ec200u', hosts: { 'iot.bench': `127.0.0.1:${platform.port}` } });
  const repl = new ReplChannel(board.hostLink('repl'));
  try {
    await new ReplBoardDriver(repl).dial({ profile: 1, apn: board.profile.apn, timeoutMs: 30_000 });
    const offsetsMs: number[] = [];
    for (let i = 0; i < SYNCS; i++) {
      await board.control.setClockOffset(5000);
      const result = await syncOverPlatform(repl, {
        host: 'iot.bench',
        port: 1883,
        productKey: DEVICE.productKey,
        deviceName: DEVICE.deviceName,
        ...deviceSignIn(DEVICE, { method: 'hmacsha256', timestampMs: Date.now() }),
        keepaliveS: 60,
        timestampType: 'long',
        timezoneHours: 0,
        answerTimeoutMs: ANSWER_TIMEOUT_MS,
        timeoutMs: 30_000,
      });
      if (!result.ok) throw new Error(`platform sync failed: ${JSON.stringify(result)}`);
      const beforeMs = Date.now();
      const rtcMs = await board.control.readRtcMs();
      offsetsMs.push(Math.abs(rtcMs - (beforeMs + Date.now()) / 2));
    }
    return {
      '|board offset after a platform sync| (sim), median ms': round(median(offsetsMs)),
      '|board offset after a platform sync| (sim), max ms': round(Math.max(...offsetsMs)),
      'platform syncs': SYNCS,
    };
  } finally {
    await repl.close();
    await board.close();
    await platform.close();
  }
}

export async function benchPlatform(): Promise<Record<string, number | string>> {
  return { ...(await benchEmbedded()), ...(await benchMosquitto()), ...(await benchBoardOffset()) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await benchPlatform();
  for (const [name, value] of Object.entries(results)) process.stdout.write(`${name}: ${value}\n`);
}
