/**
 * Bench for the reference SNTP client: how long an 8-sample query takes on loopback against our own
 * server, beside 8 bare UDP exchanges with it (the floor), and how closely our offset agrees with
 * chronyd's own (`chronyd -Q`) against a real chronyd.
 * Run alone with `node dist/bench/sntp.js` after `npm run build`.
 */
import { createSocket } from 'node:dgram';
import { pathToFileURL } from 'node:url';
import { chronydOffsetMs, findChronyd, startLocalChronyd } from '../clock/chronyd.js';
import { queryReference } from '../clock/reference.js';
import { createKissState } from '../clock/sntp/client.js';
import { startSntpServer } from '../clock/sntp/server.js';
import { alternate, comparisonRows, type Subject } from './compare.js';

const QUERY_RUNS = 50;
const CHRONYD_RUNS = 20;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

/** The floor: 8 bare request/reply exchanges on one UDP socket, no checks, no maths. */
async function bareExchangesMs(port: number, exchanges: number): Promise<number> {
  const socket = createSocket('udp4');
  const request = Buffer.alloc(48);
  request[0] = 0x23; // LI 0, version 4, mode 3 (client)
  const startedMs = performance.now();
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < exchanges; i++) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the loopback SNTP server did not answer within 2 s')), 2000);
        socket.once('message', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.send(request, port, '127.0.0.1');
      });
    }
    return performance.now() - startedMs;
  } finally {
    socket.close();
  }
}

async function benchQueryTime(): Promise<Record<string, string | number>> {
  const server = await startSntpServer();
  try {
    const servers = [`127.0.0.1:${server.port}`];
    const ours: Subject = {
      label: 'sntp: 8-sample reference query, loopback',
      run: async () => {
        const startedMs = performance.now();
        await queryReference({ servers, samples: 8, kissState: createKissState() });
        return performance.now() - startedMs;
      },
    };
    const floor: Subject = { label: 'sntp: 8 bare UDP exchanges, loopback (floor)', run: () => bareExchangesMs(server.port, 8) };
    return comparisonRows(ours, floor, await alternate(ours, floor, QUERY_RUNS));
  } finally {
    await server.close();
  }
}

async function benchAgainstChronyd(): Promise<Record<string, string | number>> {
  const binary = findChronyd();
  if (!binary) return { 'sntp.vsChronyd': 'skipped: chronyd not installed (Debian package chrony)' };
  let chronyd;
  try {
    chronyd = await startLocalChronyd({ binary });
  } catch (error) {
    return { 'sntp.vsChronyd': `skipped: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
  try {
    const differencesMs: number[] = [];
    for (let run = 0; run < CHRONYD_RUNS; run++) {
      const ours = await queryReference({ servers: [chronyd.server], kissState: createKissState() });
      const theirs = await chronydOffsetMs('127.0.0.1', chronyd.port, binary);
      differencesMs.push(Math.abs(ours.offsetMs - theirs));
    }
    return {
      'sntp.vsChronyd.medianAbsDiffMs': round3(quantile(differencesMs, 0.5)),
      'sntp.vsChronyd.maxAbsDiffMs': round3(Math.max(...differencesMs)),
      'sntp.vsChronyd.runs': CHRONYD_RUNS,
    };
  } finally {
    await chronyd.stop();
  }
}

export async function benchSntp(): Promise<Record<string, string | number>> {
  return { ...(await benchQueryTime()), ...(await benchAgainstChronyd()) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await benchSntp();
  for (const [name, value] of Object.entries(results)) process.stdout.write(`${name}: ${value}\n`);
}
