/**
 * A rig of 1, 8, 32 and 128 simulated boards with realistic latencies (fixtures/sim/ec200u-realistic.yaml:
 * a 3 s data call, AT tens of ms; NTP answered 300 ms late by the boards' server) running
 * `scenarios/ntp-sync-repl.yaml`. Each size runs in a fresh Node process, so peak RSS is that rig's own.
 *
 * Figures per size: wall time (host monotonic, `runScenarios` start to end, reports included) and its
 * ratio to one board's; the harness main thread's CPU time per board (/proc, the main thread only:
 * the simulated boards run in worker threads) and the whole process's (every thread: with boards
 * booted by the run, what the simulated boards cost on top; with boards on before the run, the
 * harness alone, as the boards run in rig-boards.ts's process); peak RSS per board (the process's,
 * less what it held before the run). Both ways of having the boards: see RigBoards.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { startSntpServer } from '../clock/sntp/server.js';
import type { BoardSpec } from '../core/model.js';
import { LeaseStore } from '../runner/lease.js';
import { runScenarios } from '../runner/run.js';
import { loadScenario, parseScenarioText } from '../runner/scenario.js';
import { fakeBoard } from '../testing/fake-board.js';
import { ntpHostsOf } from '../runner/sim-world.js';
import { FIRMWARE_NTP_FALLBACKS, FIRMWARE_NTP_HOST } from '../sim/ntp.js';
import { round } from './stats.js';

const SIZES = [1, 8, 32, 128];
const PROFILE = fileURLToPath(new URL('../../fixtures/sim/ec200u-realistic.yaml', import.meta.url));
const SCENARIO = fileURLToPath(new URL('../../scenarios/ntp-sync-repl.yaml', import.meta.url));
/** How late the boards' NTP server answers: a server across the internet, not on loopback. */
const NTP_DELAY_MS = 300;

interface RigFigures {
  boards: number;
  wallMs: number;
  mainCpuMs: number;
  /** Every thread's: the harness's and the simulated boards' (board hosts, VM threads). */
  processCpuMs: number;
  peakRssKb: number;
  baselineRssKb: number;
  outcome: string;
  passed: number;
  firstProblem?: string;
}

/** CPU time (user + system) of this process's main thread so far, ms; Linux /proc, else the event loop's busy time. */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100;
  } catch {
    return performance.eventLoopUtilization().active;
  }
}

/**
 * How a rig's boards are there. `booted`: simulated boards the run itself starts (sim:// ports, in this
 * process): their boot is in the wall time, on the same cores. `powered`: boards already on when the run
 * starts, as a bench rig's are: simulated boards in another process (rig-boards.ts), opened through
 * `tcp://` ports with leases, as a rig of network-attached boards; their work during the run still
 * shares this machine's cores, their boot does not count.
 */
export type RigBoards = 'booted' | 'powered';

/** One line of rig-boards.ts's output as a board's ports, or undefined. */
function portsOf(line: string): { repl: string; at: string } | undefined {
  try {
    const { repl, at } = JSON.parse(line) as { repl?: unknown; at?: unknown };
    return typeof repl === 'string' && typeof at === 'string' ? { repl, at } : undefined;
  } catch {
    return undefined;
  }
}

/** Boards powered on in a process of their own; resolves once every one is up. */
async function powerOnBoards(count: number, hosts: Record<string, string>): Promise<{ ports: { repl: string; at: string }[]; off: () => Promise<void> }> {
  const script = fileURLToPath(new URL('./rig-boards.js', import.meta.url));
  const child = execa('node', [script, String(count), PROFILE, JSON.stringify(hosts)], { stdin: 'pipe', stderr: 'inherit', timeout: 10 * 60_000, reject: false });
  const ports: { repl: string; at: string }[] = [];
  try {
    let ready = false;
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === 'ready') {
        ready = true;
        break;
      }
      const port = portsOf(line);
      if (!port) throw new Error(`rig-boards: not a board's ports: ${JSON.stringify(line.slice(0, 200))}`);
      ports.push(port);
    }
    if (!ready) throw new Error(`rig-boards ended before its boards were up (exit ${(await child).exitCode})`);
    if (ports.length !== count) throw new Error(`rig-boards: ${ports.length} boards' ports for ${count} boards`);
  } catch (error) {
    child.stdin.end();
    child.kill('SIGTERM');
    await child;
    throw error;
  }
  return {
    ports,
    off: async () => {
      child.stdin.end();
      await child;
    },
  };
}

/** One rig size, in this process. */
export async function runRig(boards: number, how: RigBoards = 'booted'): Promise<RigFigures> {
  const scenario = loadScenario(SCENARIO);
  const boardServer = await startSntpServer({ host: '127.0.0.1', port: 0, delayMs: NTP_DELAY_MS });
  const referenceServer = await startSntpServer({ host: '127.0.0.1', port: 0 });
  const out = mkdtempSync(join(tmpdir(), 'qhil-bench-rig-'));
  const address = `127.0.0.1:${boardServer.port}`;
  const names = new Set([FIRMWARE_NTP_HOST, ...FIRMWARE_NTP_FALLBACKS, ...ntpHostsOf([scenario])]);
  const simHosts = Object.fromEntries([...names].map((name) => [name, address]));
  let powered: Awaited<ReturnType<typeof powerOnBoards>> | undefined;
  try {
    if (how === 'powered') powered = await powerOnBoards(boards, simHosts);
    const baselineRssKb = process.resourceUsage().maxRSS;
    const specs: BoardSpec[] = Array.from({ length: boards }, (_, i) => ({
      id: `sim-${String(i + 1).padStart(3, '0')}`,
      ...(powered ? { repl: powered.ports[i]?.repl, at: powered.ports[i]?.at, apn: 'internet' } : { sim: { profile: PROFILE, offsetMs: 0, faults: [] } }),
      fields: {},
    }));
    const cpu0 = mainThreadCpuMs();
    const processCpu0 = process.cpuUsage();
    const startedAt = performance.now();
    const { result } = await runScenarios({
      scenarios: [scenario],
      boards: specs,
      outDir: out,
      reference: { servers: [`127.0.0.1:${referenceServer.port}`], samples: 4, timeoutMs: 5000, keys: [] },
      simHosts,
      ...(powered && { leases: { store: new LeaseStore({ lockDir: join(out, 'leases') }), waitMs: 0 } }),
      // QHIL_BENCH_SIM_BOOTS=<n> tries another number of simulated boards booting at once.
      ...(process.env.QHIL_BENCH_SIM_BOOTS && { simBootsAtOnce: Number(process.env.QHIL_BENCH_SIM_BOOTS) }),
    });
    const wallMs = performance.now() - startedAt;
    const mainCpuMs = mainThreadCpuMs() - cpu0;
    const processCpu = process.cpuUsage(processCpu0);
    const scenarios = result.boards.flatMap((b) => b.scenarios);
    return {
      boards,
      wallMs,
      mainCpuMs,
      processCpuMs: (processCpu.user + processCpu.system) / 1000,
      peakRssKb: process.resourceUsage().maxRSS,
      baselineRssKb,
      outcome: result.outcome,
      passed: scenarios.filter((s) => s.outcome === 'PASS').length,
      firstProblem: scenarios.find((s) => s.outcome !== 'PASS')?.message,
    };
  } finally {
    // QHIL_BENCH_KEEP=1 keeps the run folder, to see where the time went (events.jsonl).
    if (process.env.QHIL_BENCH_KEEP) process.stderr.write(`run folder kept: ${out}\n`);
    else rmSync(out, { recursive: true, force: true });
    await powered?.off();
    await boardServer.close();
    await referenceServer.close();
  }
}

/** How long a fake board takes to answer a reading: a board's seconds without its CPU. */
const FAKE_READ_MS = 3000;

/**
 * The harness alone: `boards` fake boards (no VM, no worker) whose readings take FAKE_READ_MS, through
 * read-time and compare, in this process. Its wall ratio is what the scheduler and the record cost;
 * the simulated rig's on top of it is the simulated boards' own CPU.
 */
export async function runFakeRig(boards: number): Promise<{ wallMs: number; mainCpuMs: number; outcome: string; firstProblem?: string }> {
  const scenario = parseScenarioText('name: fake\nsteps:\n  - read-time: { via: at, as: t1, timeout: 10s }\n  - compare: { read: t1, tolerance: 5s }\n', 'fake.yaml');
  const referenceServer = await startSntpServer({ host: '127.0.0.1', port: 0 });
  const out = mkdtempSync(join(tmpdir(), 'qhil-bench-fake-'));
  try {
    const specs: BoardSpec[] = Array.from({ length: boards }, (_, i) => ({ id: `fake-${i}`, at: `/dev/fake-${i}`, fields: {} }));
    const fakes = new Map(
      specs.map((spec) => [
        spec.id,
        fakeBoard(spec, {
          ports: ['at'],
          readLocaltime: (via) =>
            new Promise((resolve) => {
              const hostSendMs = Date.now();
              setTimeout(() => {
                const d = new Date();
                const tuple = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0, 1];
                resolve({ via, localtime: tuple as [number, number, number, number, number, number, number, number], zoneQuarterHours: 0, hostSendMs, hostReceiveMs: Date.now(), raw: '' });
              }, FAKE_READ_MS);
            }),
        }),
      ]),
    );
    const cpu0 = mainThreadCpuMs();
    const startedAt = performance.now();
    const { result } = await runScenarios({
      scenarios: [scenario],
      boards: specs,
      outDir: out,
      reference: { servers: [`127.0.0.1:${referenceServer.port}`], samples: 1, timeoutMs: 5000, keys: [] },
      openBoard: async (spec) => fakes.get(spec.id) as ReturnType<typeof fakeBoard>,
    });
    const wallMs = performance.now() - startedAt;
    const problem = result.boards.flatMap((b) => b.scenarios).find((s) => s.outcome !== 'PASS');
    return { wallMs, mainCpuMs: mainThreadCpuMs() - cpu0, outcome: result.outcome, ...(problem && { firstProblem: problem.message }) };
  } finally {
    rmSync(out, { recursive: true, force: true });
    await referenceServer.close();
  }
}

/** Every size, each in its own process; sizes from QHIL_BENCH_RIG_SIZES (`1,8,32`) when set, both ways of having the boards (QHIL_BENCH_RIG_BOARDS=booted|powered: one). */
export async function benchRig(): Promise<Record<string, number | string>> {
  const sizes = process.env.QHIL_BENCH_RIG_SIZES ? process.env.QHIL_BENCH_RIG_SIZES.split(',').map(Number) : SIZES;
  const only = process.env.QHIL_BENCH_RIG_BOARDS;
  if (only !== undefined && only !== 'powered' && only !== 'booted') throw new Error(`QHIL_BENCH_RIG_BOARDS: powered or booted, not ${JSON.stringify(only)}`);
  const ways: RigBoards[] = only ? [only] : ['powered', 'booted'];
  const self = fileURLToPath(import.meta.url);
  const figures: Record<string, number | string> = {};
  for (const how of ways) {
    let oneBoardMs: number | undefined;
    for (const size of sizes) {
      const { stdout } = await execa('node', [self, String(size), how], { timeout: 15 * 60_000 });
      const rig = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as RigFigures;
      if (size === 1) oneBoardMs = rig.wallMs;
      const label = `${how === 'powered' ? 'boards on before the run' : 'boards booted by the run'}, ${size} board${size === 1 ? '' : 's'}`;
      figures[`${label}: wall time, ms (${rig.outcome}, ${rig.passed}/${size} passed)`] = round(rig.wallMs);
      if (rig.firstProblem) figures[`${label}: first problem`] = rig.firstProblem;
      if (oneBoardMs !== undefined) figures[`${label}: wall time / one board's`] = round(rig.wallMs / oneBoardMs, 2);
      figures[`${label}: harness main-thread CPU per board, ms`] = round(rig.mainCpuMs / size);
      figures[`${label}: process CPU per board (${how === 'powered' ? 'harness only' : 'harness and simulated boards'}), ms`] = round(rig.processCpuMs / size);
      figures[`${label}: peak RSS per board, MiB`] = round((rig.peakRssKb - rig.baselineRssKb) / 1024 / size, 1);
    }
  }
  let oneFakeMs: number | undefined;
  for (const size of sizes) {
    const fake = await runFakeRig(size);
    oneFakeMs ??= fake.wallMs;
    const label = `harness alone, ${size} fake board${size === 1 ? '' : 's'} (${fake.outcome})`;
    figures[`${label}: wall time / one board's`] = round(fake.wallMs / oneFakeMs, 2);
    figures[`${label}: main-thread CPU per board, ms`] = round(fake.mainCpuMs / size, 1);
  }
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const size = Number(process.argv[2]);
  if (process.argv[3] === 'fake') {
    process.stdout.write(`${JSON.stringify(await runFakeRig(size))}\n`);
  } else if (Number.isInteger(size) && size > 0) {
    process.stdout.write(`${JSON.stringify(await runRig(size, process.argv[3] === 'powered' ? 'powered' : 'booted'))}\n`);
  } else {
    process.stdout.write(`${JSON.stringify(await benchRig(), null, 2)}\n`);
  }
}
