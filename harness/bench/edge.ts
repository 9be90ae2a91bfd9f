import { availableParallelism, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { AtChannel } from '../channel/at/channel.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { AtBoardDriver } from '../board/at.js';
import type { BoardDriver } from '../board/board.js';
import { tupleSeconds } from '../board/edge.js';
import { ReplBoardDriver } from '../board/repl.js';
import { SerialLink } from '../link/serial.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import { servePty, type ServedBoard } from '../sim/serve.js';
import { startSntpServer } from '../clock/sntp/server.js';
import { median, percentile, round } from './stats.js';

/**
 * Edge-timed readings (read-time precision: edge) on simulated boards over socat PTYs, against the
 * offset injected into each board: a sim's clock is the host clock plus that offset plus its network
 * zone, so no reference server is needed. Per path, quiet and with one busy process per core:
 * |reported - injected| (median, max), reported half-width (median), how often the interval holds
 * the injected value, and time per reading. AT readings run on several boards at once (each mostly
 * waits for its aimed polls); REPL readings one at a time (the board loop spins a core).
 * Trials per path and condition: QHIL_BENCH_EDGE_TRIALS (default 200); QHIL_BENCH_EDGE_PATHS=at or
 * repl runs one path; QHIL_BENCH_EDGE_SYNCS (default 20; 0: none) the settime() truncation trials.
 * Needs `npm run build`.
 */

const BASE_OFFSETS_MS = [-60_000, -1500, -0.4, 250, 999, 7321, 60_000];
const AT_BOARDS = 4;

interface Rig {
  board: SimBoard;
  served: ServedBoard;
  driver: BoardDriver;
  zoneMs: number;
  close(): Promise<void>;
}

async function startRig(via: 'repl' | 'at'): Promise<Rig> {
  const board = await startSimBoard({ profile: 'ec200u' });
  const served = await servePty(board);
  const link = await SerialLink.open(served.ports[via]);
  const driver = via === 'repl' ? new ReplBoardDriver(new ReplChannel(link)) : new AtBoardDriver(new AtChannel(link), { apn: '' });
  return {
    board,
    served,
    driver,
    zoneMs: board.profile.zoneQuarterHours * 15 * 60_000,
    close: async () => {
      await link.close();
      await served.close();
      await board.close();
    },
  };
}

interface Trial {
  errorMs: number;
  halfWidthMs: number;
  contained: boolean;
  tookMs: number;
}

/** Offset for trial `i`: one of the bases plus a fraction that walks through the millisecond. */
function injectedOffsetMs(i: number): number {
  return (BASE_OFFSETS_MS[i % BASE_OFFSETS_MS.length] ?? 0) + ((i * 0.137) % 1);
}

async function trial(rig: Rig, offsetMs: number): Promise<Trial> {
  await rig.board.control.setClockOffset(offsetMs);
  const startedMs = performance.now();
  const reading = await rig.driver.readLocaltime({ timeoutMs: 10_000, precision: 'edge' });
  const tookMs = performance.now() - startedMs;
  const edge = reading.edge;
  if (!edge) throw new Error('reading is not edge-timed');
  const boardUtcMs = tupleSeconds(reading.localtime) * 1000 - rig.zoneMs;
  const lowMs = boardUtcMs - edge.hostHighMs;
  const highMs = boardUtcMs - edge.hostLowMs;
  return { errorMs: (lowMs + highMs) / 2 - offsetMs, halfWidthMs: (highMs - lowMs) / 2, contained: lowMs <= offsetMs && offsetMs <= highMs, tookMs };
}

/** A trial the rig failed (a PTY write not taken within its limit on a starved host): counted, not hidden. */
interface FailedTrial {
  failed: string;
}

async function runTrials(via: 'repl' | 'at', trials: number): Promise<(Trial | FailedTrial)[]> {
  const rigs = await Promise.all(Array.from({ length: via === 'at' ? AT_BOARDS : 1 }, () => startRig(via)));
  const results: (Trial | FailedTrial)[] = [];
  let next = 0;
  try {
    await Promise.all(
      rigs.map(async (rig) => {
        for (let i = next++; i < trials; i = next++) {
          results.push(await trial(rig, injectedOffsetMs(i)).catch((error: unknown) => ({ failed: error instanceof Error ? error.message : String(error) })));
        }
      }),
    );
  } finally {
    await Promise.allSettled(rigs.map((rig) => rig.close()));
  }
  return results;
}

/** One busy process per core, as a loaded CI runner has. */
function loadMachine(): ResultPromise[] {
  return Array.from({ length: availableParallelism() }, () => execa('node', ['-e', 'for (;;) {}'], { reject: false }));
}

function figures(label: string, all: (Trial | FailedTrial)[]): Record<string, number | string> {
  const results = all.filter((result): result is Trial => !('failed' in result));
  const failed = all.filter((result): result is FailedTrial => 'failed' in result);
  const errorsMs = results.map((result) => Math.abs(result.errorMs));
  const contained = results.filter((result) => result.contained).length;
  return {
    [`${label} trials`]: results.length,
    [`${label} trials the rig failed`]: failed.length === 0 ? 0 : `${failed.length} (first: ${failed[0]?.failed ?? ''})`,
    [`${label} |reported - injected| median ms`]: round(median(errorsMs), 3),
    [`${label} |reported - injected| max ms`]: round(Math.max(...errorsMs), 3),
    [`${label} reported uncertainty (half-width) median ms`]: round(median(results.map((result) => result.halfWidthMs)), 3),
    [`${label} interval contains injected`]: `${contained}/${results.length} (${round((100 * contained) / results.length, 1)}%)`,
    [`${label} time per reading median ms`]: round(median(results.map((result) => result.tookMs)), 0),
    [`${label} time per reading max ms`]: round(percentile(results.map((result) => result.tookMs), 100), 0),
  };
}

/**
 * What ntptime.settime() leaves on the simulated board, read edge-timed: the firmware keeps whole
 * seconds, so the board should read 0-1 s behind the server (mean about -500 ms, plus the one-way delay).
 */
async function benchTruncation(syncs: number): Promise<Record<string, number | string>> {
  const server = await startSntpServer({ offsetMs: 0 });
  const board = await startSimBoard({ profile: 'ec200u', hosts: { 'ntp.aliyun.com': `127.0.0.1:${server.port}` } });
  const served = await servePty(board);
  const link = await SerialLink.open(served.ports.repl);
  const driver = new ReplBoardDriver(new ReplChannel(link));
  const offsetsMs: number[] = [];
  try {
    // A starved host (the bench runs beside other work) can take long to bring the sim's call up.
    await driver.dial({ profile: 1, timeoutMs: 30_000 });
    for (let i = 0; i < syncs; i++) {
      // A sync at a random phase of the server's second.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
      const sync = await driver.syncClock({ timezoneHours: 0, timeoutMs: 10_000 });
      if (!sync.ok) throw new Error(`ntptime.settime() failed: ${sync.reason ?? ''}`);
      const reading = await driver.readLocaltime({ timeoutMs: 10_000, precision: 'edge' });
      const edge = reading.edge;
      if (!edge) throw new Error('reading is not edge-timed');
      // After settime(0) localtime() reads UTC.
      offsetsMs.push(tupleSeconds(reading.localtime) * 1000 - (edge.hostLowMs + edge.hostHighMs) / 2);
    }
  } finally {
    await link.close();
    await served.close();
    await board.close();
    await server.close();
  }
  return {
    'after ntptime.settime(): syncs': syncs,
    'after ntptime.settime(): offset mean ms': round(offsetsMs.reduce((sum, value) => sum + value, 0) / offsetsMs.length, 1),
    'after ntptime.settime(): offset min / max ms': `${round(Math.min(...offsetsMs), 1)} / ${round(Math.max(...offsetsMs), 1)}`,
  };
}

function oneMinuteLoad(): string {
  return loadavg()[0]?.toFixed(1) ?? '?';
}

/** `progress` sees each part's figures as soon as they are in (a long run on a starved host shows what it has). */
export async function benchEdge(
  trials = Number(process.env.QHIL_BENCH_EDGE_TRIALS ?? 200),
  progress: (part: Record<string, number | string>) => void = () => undefined,
): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  const add = (part: Record<string, number | string>): void => {
    Object.assign(out, part);
    progress(part);
  };
  const syncs = Number(process.env.QHIL_BENCH_EDGE_SYNCS ?? 20);
  if (syncs > 0) add(await benchTruncation(syncs));
  // QHIL_BENCH_EDGE_PATHS=at (or repl) runs one path only.
  const paths = (['repl', 'at'] as const).filter((via) => (process.env.QHIL_BENCH_EDGE_PATHS ?? 'repl,at').split(',').includes(via));
  for (const via of paths) {
    const quietFromLoad = oneMinuteLoad();
    add(figures(`${via} quiet`, await runTrials(via, trials)));
    add({ [`${via} quiet: load average (1 min) at start / end`]: `${quietFromLoad} / ${oneMinuteLoad()}` });
    const load = loadMachine();
    try {
      const loadedFromLoad = oneMinuteLoad();
      add(figures(`${via} loaded (${load.length} busy)`, await runTrials(via, trials)));
      add({ [`${via} loaded: load average (1 min) at start / end`]: `${loadedFromLoad} / ${oneMinuteLoad()}` });
    } finally {
      for (const child of load) child.kill('SIGKILL');
      await Promise.allSettled(load);
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchEdge(undefined, (part) => {
    for (const [label, value] of Object.entries(part)) process.stdout.write(`  ${label.padEnd(58)} ${value}\n`);
  });
}
