/**
 * Bench for the reference SNTP client: how long an 8-sample query takes on loopback against our own
 * server, and how closely our offset agrees with chronyd's own (`chronyd -Q`) against a real chronyd.
 * Run alone with `node dist/bench/sntp.js` after `npm run build`.
 */
import { pathToFileURL } from 'node:url';
import { chronydOffsetMs, findChronyd, startLocalChronyd } from '../clock/chronyd.js';
import { queryReference } from '../clock/reference.js';
import { createKissState } from '../clock/sntp/client.js';
import { startSntpServer } from '../clock/sntp/server.js';

const QUERY_RUNS = 50;
const CHRONYD_RUNS = 20;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

async function benchQueryTime(): Promise<Record<string, number>> {
  const server = await startSntpServer();
  try {
    const servers = [`127.0.0.1:${server.port}`];
    await queryReference({ servers, samples: 8, kissState: createKissState() }); // warm-up: JIT, first socket
    const durationsMs: number[] = [];
    for (let run = 0; run < QUERY_RUNS; run++) {
      const startedMs = performance.now();
      await queryReference({ servers, samples: 8, kissState: createKissState() });
      durationsMs.push(performance.now() - startedMs);
    }
    return {
      'sntp.query8.loopback.medianMs': round3(quantile(durationsMs, 0.5)),
      'sntp.query8.loopback.p90Ms': round3(quantile(durationsMs, 0.9)),
    };
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
