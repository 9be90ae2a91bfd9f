/**
 * What `qhil run` does (and `qhil demo` through executeRun): loaded only when one of them runs, so
 * their --help loads none of it (see "Start-up" in command.ts).
 */
import { resolve } from 'node:path';
import { errorMessage, InputError } from '../core/errors.js';
import { checkReferenceOptions, DEFAULT_SAMPLES, DEFAULT_TIMEOUT_MS } from '../clock/reference.js';
import { ProgressReporter } from '../report/index.js';
import type { BoardSpec, ReferenceSpec, RunEvent, Scenario } from '../core/model.js';
import { loadRig } from '../runner/rig.js';
import { checkRunnable, parseShard, type ShardSpec } from '../runner/preflight.js';
import { leaseOptionsFromFlags } from '../runner/lease.js';
import { runScenarios, type RunOptions, type RunOutput, type StartedRun } from '../runner/run.js';
import { loadScenario } from '../runner/scenario.js';
import { startSimWorld, type SimWorld } from '../runner/sim-world.js';
import { ExitCode, type CliIo } from './command.js';
import { durationFlagMs } from './flags.js';
import type { RunFlags } from './run.js';

/** Boards from --rig, --board sim, or --repl/--at flags (exactly one of these ways). */
export function boardsFromFlags(flags: RunFlags): { boards: BoardSpec[]; rigReference?: ReferenceSpec; lockDir?: string; concurrency?: number } {
  const ways = [flags.rig !== undefined, flags.board !== undefined, flags.at !== undefined || flags.repl !== undefined].filter(Boolean).length;
  if (ways === 0) throw new InputError('no board: give --rig <rig.yaml>, --board sim, or --repl <port> / --at <port>');
  if (ways > 1) throw new InputError('give only one of --rig, --board sim, and --repl/--at');
  if (flags.rig) {
    const rig = loadRig(flags.rig);
    return { boards: rig.boards, rigReference: rig.reference, lockDir: rig.lockDir, concurrency: rig.concurrency };
  }
  if (flags.board !== undefined) {
    if (flags.board !== 'sim') throw new InputError(`--board ${flags.board}: the only built-in board is "sim"`);
    const offsetMs = flags.offset ? durationFlagMs('--offset', flags.offset) : 0;
    return { boards: [{ id: 'sim-1', sim: { profile: flags.profile ?? 'ec200u', offsetMs, faults: [] }, fields: {} }] };
  }
  return { boards: [{ id: 'board-1', at: flags.at, repl: flags.repl, apn: flags.apn, fields: {} }] };
}

export function referenceFromFlags(flags: Pick<RunFlags, 'reference' | 'samples'>): ReferenceSpec | undefined {
  const samples = flags.samples === undefined ? DEFAULT_SAMPLES : Number(flags.samples);
  if (!Number.isInteger(samples) || samples < 1 || samples > 64) throw new InputError(`--samples ${flags.samples}: expected a whole number from 1 to 64`);
  if (flags.reference.length === 0) {
    if (flags.samples !== undefined) throw new InputError('--samples sets how often the --reference servers are asked: give --reference <server> too');
    return undefined;
  }
  const spec: ReferenceSpec = { servers: flags.reference, samples, timeoutMs: DEFAULT_TIMEOUT_MS, keys: [] };
  // A server that does not parse is bad input now, not an ERROR after every step has run.
  try {
    checkReferenceOptions({ servers: spec.servers, samples: spec.samples, timeoutMs: spec.timeoutMs });
  } catch (error) {
    throw new InputError(`--reference: ${errorMessage(error)}`);
  }
  return spec;
}

/** `--concurrency <n>`: a whole number of boards, 1 or more; InputError otherwise. */
export function concurrencyFromFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1 || n > 1024) {
    throw new InputError(`--concurrency ${JSON.stringify(text.slice(0, 40))}: expected a whole number of boards from 1 to 1024`);
  }
  return n;
}

export interface ExecuteRunOptions {
  scenarios: Scenario[];
  boards: BoardSpec[];
  rigReference?: ReferenceSpec;
  reference?: ReferenceSpec;
  out: string;
  tags: string[];
  json: boolean;
  io: CliIo;
  leases?: RunOptions['leases'];
  /** At most this many boards at once; default all. */
  concurrency?: number;
  /** Only this shard's share of the work. */
  shard?: ShardSpec;
}

/**
 * Runs scenarios with live progress, Ctrl-C handling and, for simulated boards, a local SNTP world;
 * shared by `qhil run` and `qhil demo`. Resolves to the exit code.
 */
export async function executeRun(options: ExecuteRunOptions): Promise<{ exitCode: ExitCode; output?: RunOutput }> {
  // Signals are handled from the first moment, before the simulated world starts: a Ctrl-C during
  // start-up stops cleanly too, and SIGHUP (a closed terminal, a killed SSH session) is a stop like any other.
  const controller = new AbortController();
  let started: StartedRun | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      options.io.stderr(`\nqhil: ${signal} again, leaving now without closing ports; the record is left unfinished (RUNNING)\n`);
      try {
        started?.flushNow();
      } catch (error) {
        options.io.stderr(`qhil: could not write result.json: ${errorMessage(error)}\n`);
      }
      process.exit(ExitCode.Infrastructure);
    }
    options.io.stderr(`\nqhil: ${signal}: stopping; closing ports and writing what was measured\n`);
    controller.abort();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  let world: SimWorld | undefined;
  try {
    const usesSim = options.boards.some((board) => board.sim);
    let reference = options.reference;
    // Bad input exits 2 before anything starts (the sim world's reference is filled in below).
    checkRunnable({
      scenarios: options.scenarios,
      boards: options.boards,
      reference: reference ?? (usesSim && options.boards.every((board) => board.sim) && !options.rigReference ? SIM_WORLD_REFERENCE_PLACEHOLDER : undefined),
      rigReference: options.rigReference,
      tags: options.tags,
    });
    if (usesSim) {
      world = await startSimWorld(options.scenarios, options.boards);
      // A simulated board's clock is set against the host's: the local server serving the host's clock
      // is the only meaningful reference for it, whatever public servers the scenario names.
      const allSimulated = options.boards.every((board) => board.sim);
      if (allSimulated && !reference && !options.rigReference) reference = world.reference;
    }
    if (controller.signal.aborted) {
      options.io.stderr('qhil: stopped before the run started: nothing was run\n');
      return { exitCode: ExitCode.Infrastructure };
    }
    const progress = options.json
      ? undefined
      : new ProgressReporter({ write: options.io.stdout, interactive: options.io.interactive, columns: process.stdout.columns, rows: process.stdout.rows });
    const output = await runScenarios({
      scenarios: options.scenarios,
      boards: options.boards,
      outDir: resolve(options.out),
      reference,
      rigReference: options.rigReference,
      tags: options.tags,
      signal: controller.signal,
      simHosts: world?.hosts,
      leases: options.leases,
      concurrency: options.concurrency,
      shard: options.shard,
      onEvent: (event: RunEvent) => progress?.onEvent(event),
      onStarted: (run) => {
        started = run;
      },
    });
    if (progress) {
      progress.finish(output.result, output.runDir);
    } else {
      options.io.stdout(`${JSON.stringify({ ...output.result, runDir: output.runDir }, null, 2)}\n`);
    }
    return { exitCode: output.result.exitCode as ExitCode, output };
  } finally {
    // The handlers stay until the simulated world is closed too: a Ctrl-C then still exits 3, never by the signal.
    try {
      await world?.close();
    } finally {
      for (const signal of signals) process.off(signal, onSignal);
    }
  }
}

/** Stands in for the local server a simulated world will serve, so the preflight can check compares. */
const SIM_WORLD_REFERENCE_PLACEHOLDER: ReferenceSpec = { servers: ['127.0.0.1:123'], samples: 1, timeoutMs: 1000, keys: [] };

/** `qhil run <scenario...>` with its flags; resolves to the exit code. */
export async function runFromFlags(files: string[], flags: RunFlags, io: CliIo): Promise<ExitCode> {
  // Everything is validated before any port opens: a typo fails in milliseconds.
  const scenarios = files.map((file) => loadScenario(file));
  const { boards, rigReference, lockDir, concurrency } = boardsFromFlags(flags);
  const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  const leases = leaseOptionsFromFlags({ lockDir: flags.lockDir, rigLockDir: lockDir, waitMs: flags.wait === undefined ? 0 : durationFlagMs('--wait', flags.wait) });
  const { exitCode, output } = await executeRun({
    concurrency: concurrencyFromFlag(flags.concurrency) ?? concurrency,
    shard,
    scenarios,
    boards,
    rigReference,
    reference: referenceFromFlags(flags),
    out: flags.out,
    tags: flags.tag,
    json: Boolean(flags.json),
    io,
    leases,
  });
  if (flags.pdf && output) {
    const { writePdfOrSay } = await import('./report-action.js');
    const pdf = await writePdfOrSay(output.runDir, flags.browser, io);
    if (pdf && !flags.json) io.stdout(`wrote ${pdf}\n`);
  }
  return exitCode;
}
