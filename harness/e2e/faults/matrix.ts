// The fault matrix: each case runs qhil the way a user does (a process, CI=true, no stdin) against a
// fault, and is judged on five counts: it ended within its deadline (no hang), it was classed right
// (exit code, outcome, whose fault), it said so clearly, it lost nothing (every finished step is in
// result.json and junit.xml; an unfinished record never reads PASS), and no raw control byte reached
// the terminal. `npm run faults` collects the rows into a table with totals.
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll } from 'vitest';
import type { Fault } from '../../core/errors.js';
import type { RecordOutcome, RunEvent, RunResult } from '../../core/model.js';
import type { MatrixRow } from '../../bench/faults.js';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'qhil.js');
/** What a case's run (its run-start to run-end events) may take beyond its deadline before it counts as a hang. */
export const GRACE_MS = 3000;
/**
 * ...and its process, on top: Node's start, loading qhil, the reports, exit. That part is the host's
 * speed, not qhil's deadlines, and on a loaded CI host (the whole suite on two slow cores) it took
 * seconds: a case whose run ended in time is not a hang for a process that was slow to start.
 */
export const LOADED_HOST_MS = 6000;

/** A vitest timeout for a case whose deadline is `deadlineMs`: past qhil's kill, with room to wait for a slot. */
export function caseTimeoutMs(deadlineMs: number): number {
  return deadlineMs + GRACE_MS + LOADED_HOST_MS + 10_000;
}

export interface Observation {
  /** undefined when the process had to be killed: a hang. */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  runDir?: string;
  result?: RunResult;
  junit?: string;
  events?: RunEvent[];
  /** Wall-clock ms the case's deadline counts from when not the process's start (a signal sent mid-run). */
  judgedFromMs?: number;
}

export interface Expectation {
  exit: number;
  /** The run's outcome in result.json; 'none' when no run folder may be written (bad input). */
  outcome?: RecordOutcome | 'none';
  /** Whose fault the first non-passing scenario is. */
  fault?: Fault;
  /** Must appear in what the user sees: stdout, stderr, or the record's messages. */
  says: RegExp;
  /** The case must end within this (plus GRACE_MS). */
  deadlineMs: number;
}

export type { MatrixRow } from '../../bench/faults.js';

/** Starts `qhil <args>` as a user would: CI=true, no stdin. The caller may signal it while it runs. */
export function startQhil(args: string[], options: { deadlineMs: number; env?: Record<string, string> }): ResultPromise {
  return execa('node', [BIN, ...args], {
    reject: false,
    timeout: options.deadlineMs + GRACE_MS + LOADED_HOST_MS,
    killSignal: 'SIGKILL',
    env: { CI: 'true', ...options.env },
    stdin: 'ignore',
    encoding: 'utf8',
  });
}

/** Runs `qhil <args>` to its end and gathers what it left: output, exit code, the run folder under `outDir`. */
export async function observe(child: ResultPromise, startedAt: number, outDir?: string): Promise<Observation> {
  const done = await child;
  const elapsedMs = performance.now() - startedAt;
  const observation: Observation = {
    exitCode: done.timedOut || done.exitCode === undefined || done.signal ? undefined : done.exitCode,
    stdout: String(done.stdout ?? ''),
    stderr: String(done.stderr ?? ''),
    elapsedMs,
  };
  if (outDir) Object.assign(observation, readRunFolder(outDir));
  return observation;
}

export async function runQhil(args: string[], options: { deadlineMs: number; outDir?: string; env?: Record<string, string> }): Promise<Observation> {
  const startedAt = performance.now();
  return observe(startQhil(args, options), startedAt, options.outDir);
}

/**
 * Runs at most `max` pieces of work at once; the rest wait in order. The host has two cores: more
 * qhil processes at once only make each case slower, and a case's time (from its own start) is judged.
 */
export function limiter(max: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queued: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running < max) running++;
    else await new Promise<void>((resolve) => queued.push(resolve));
    try {
      return await work();
    } finally {
      // A finished piece hands its slot straight to the next waiting one: never more than `max`.
      const next = queued.shift();
      if (next) next();
      else running--;
    }
  };
}

const twoAtOnce = limiter(2);

/** `runQhil`, at most two at once in one test file. */
export function runQhilLimited(args: string[], options: { deadlineMs: number; outDir?: string; env?: Record<string, string> }): Promise<Observation> {
  return twoAtOnce(() => runQhil(args, options));
}

export function freshOutDir(): string {
  return mkdtempSync(join(tmpdir(), 'qhil-fault-'));
}

/** A test file's own temp folder for its inputs, and fresh output folders; all removed after the file. */
export function caseFolder(name: string): { file(fileName: string, text: string): string; outDir(): string } {
  const dir = mkdtempSync(join(tmpdir(), `qhil-fault-${name}-`));
  const made = [dir];
  afterAll(() => {
    for (const path of made) rmSync(path, { recursive: true, force: true });
  });
  return {
    file: (fileName, text) => {
      const path = join(dir, fileName);
      writeFileSync(path, text);
      return path;
    },
    outDir: () => {
      const path = freshOutDir();
      made.push(path);
      return path;
    },
  };
}

/** The one run folder under `outDir`, and what it holds. */
export function readRunFolder(outDir: string): Partial<Observation> {
  if (!existsSync(outDir)) return {};
  const runs = readdirSync(outDir).filter((name) => existsSync(join(outDir, name, 'events.jsonl')) || existsSync(join(outDir, name, 'result.json')));
  const first = runs[0];
  if (!first) return {};
  const runDir = join(outDir, first);
  const read = (file: string): string | undefined => (existsSync(join(runDir, file)) ? readFileSync(join(runDir, file), 'utf8') : undefined);
  const resultText = read('result.json');
  const eventsText = read('events.jsonl');
  return {
    runDir,
    result: resultText ? (JSON.parse(resultText) as RunResult) : undefined,
    junit: read('junit.xml'),
    events: eventsText
      ? eventsText
          .split('\n')
          .filter((line) => line.trim())
          .flatMap((line) => {
            try {
              return [JSON.parse(line) as RunEvent];
            } catch {
              return [];
            }
          })
      : undefined,
  };
}

// C0 controls but tab and newline, DEL, and C1 controls: none may reach a terminal from qhil in CI.
const CONTROL_BYTES = /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/;

function firstNonPass(result: RunResult): { outcome: RecordOutcome; fault?: Fault } | undefined {
  for (const board of result.boards) {
    for (const scenario of board.scenarios) {
      if (scenario.outcome !== 'PASS' && scenario.outcome !== 'SKIP') return { outcome: scenario.outcome, fault: scenario.fault };
    }
  }
  return undefined;
}

/** From the run-start event (or `fromMs`, if later) to the run-end event, ms; undefined without both events. */
function runSpanMs(events: readonly RunEvent[] | undefined, fromMs = -Infinity): number | undefined {
  const start = events?.find((event) => event.type === 'run-start');
  const end = events?.find((event) => event.type === 'run-end');
  return start && end ? Date.parse(end.at) - Math.max(Date.parse(start.at), fromMs) : undefined;
}

/** Everything wrong with an observation, judged against what was expected; empty when the case is right. */
export function judge(observation: Observation, expected: Expectation): string[] {
  const problems: string[] = [];
  // A case with a run is judged on the run's span, and its process gets LOADED_HOST_MS more for
  // starting and exiting; one without (bad input, validate, report) on its process alone, as before.
  const runMs = runSpanMs(observation.events, observation.judgedFromMs);
  const processLimitMs = expected.deadlineMs + GRACE_MS + (runMs === undefined ? 0 : LOADED_HOST_MS);
  if (observation.exitCode === undefined) problems.push(`hang: killed after ${Math.round(observation.elapsedMs)}ms`);
  else if (runMs !== undefined && runMs > expected.deadlineMs + GRACE_MS) problems.push(`hang: the run took ${Math.round(runMs)}ms, deadline ${expected.deadlineMs}ms`);
  else if (observation.elapsedMs > processLimitMs) problems.push(`hang: took ${Math.round(observation.elapsedMs)}ms, deadline ${expected.deadlineMs}ms`);
  if (observation.exitCode !== undefined && observation.exitCode !== expected.exit) problems.push(`wrong class: exit ${observation.exitCode}, expected ${expected.exit}`);
  const result = observation.result;
  if (expected.outcome === 'none') {
    if (result) problems.push('wrong class: bad input wrote a run record (something was run)');
  } else if (expected.outcome !== undefined && result?.outcome !== expected.outcome) {
    problems.push(`wrong class: outcome ${result?.outcome ?? '(no result.json)'}, expected ${expected.outcome}`);
  }
  if (expected.fault !== undefined && result) {
    const deciding = firstNonPass(result);
    if (deciding?.fault !== expected.fault) problems.push(`wrong class: fault ${deciding?.fault ?? '(none)'}, expected ${expected.fault}`);
  }
  const said = [observation.stdout, observation.stderr, ...(result ? recordMessages(result) : [])].join('\n');
  if (!expected.says.test(said)) problems.push(`unclear: nothing says ${expected.says}`);
  problems.push(...lost(observation));
  if (CONTROL_BYTES.test(observation.stdout) || CONTROL_BYTES.test(observation.stderr)) {
    const match = CONTROL_BYTES.exec(observation.stdout) ?? CONTROL_BYTES.exec(observation.stderr);
    problems.push(`raw control byte on the terminal: ${JSON.stringify(match?.[0])}`);
  }
  return problems;
}

function recordMessages(result: RunResult): string[] {
  return [
    ...(result.problems ?? []),
    ...result.boards.flatMap((board) => board.scenarios.flatMap((scenario) => [scenario.message ?? '', ...scenario.steps.map((step) => step.message ?? '')])),
  ];
}

/** Nothing lost, nothing false: finished steps are in result.json and junit.xml; an unfinished record is no pass. */
function lost(observation: Observation): string[] {
  const problems: string[] = [];
  const { result, events, junit } = observation;
  if (!result) return problems;
  if (observation.exitCode !== 0 && result.outcome === 'PASS') problems.push(`false result: exit ${observation.exitCode} but result.json says PASS`);
  if (observation.exitCode === undefined && result.outcome === 'PASS') problems.push('false result: a killed run reads PASS');
  for (const event of events ?? []) {
    if (event.type !== 'step-end') continue;
    const scenario = result.boards.find((b) => b.id === event.board)?.scenarios.find((s) => s.scenario === event.scenario);
    const step = scenario?.steps.find((s) => s.index === event.result.index);
    if (!step) problems.push(`lost: step ${event.result.index + 1} of ${event.scenario} on ${event.board} is in events.jsonl, not in result.json`);
    else if (step.outcome !== event.result.outcome) problems.push(`lost: step ${event.result.index + 1} is ${event.result.outcome} in events.jsonl, ${step.outcome} in result.json`);
  }
  const finished = result.outcome !== 'RUNNING';
  if (finished && junit === undefined) problems.push('lost: the run finished but wrote no junit.xml');
  if (junit !== undefined) {
    const failing = /<failure|<error/.test(junit);
    if (result.outcome === 'PASS' && failing) problems.push('false result: junit.xml fails a passing run');
    if (result.outcome !== 'PASS' && result.outcome !== 'SKIP' && !failing) problems.push(`false result: junit.xml passes a ${result.outcome} run`);
    for (const board of result.boards) {
      for (const scenario of board.scenarios) {
        if (!junit.includes(`name="${scenario.scenario}"`) && !junit.includes(scenario.scenario)) problems.push(`lost: ${scenario.scenario} on ${board.id} is not in junit.xml`);
      }
    }
  }
  return problems;
}

/** Appends a row to the matrix file `npm run faults` prints (QHIL_FAULT_MATRIX); a no-op otherwise. */
export function recordRow(row: MatrixRow): void {
  const file = process.env.QHIL_FAULT_MATRIX;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

export function describeExpectation(expected: Expectation): string {
  return [`exit ${expected.exit}`, expected.outcome && expected.outcome !== 'none' ? expected.outcome : undefined, expected.fault].filter(Boolean).join(' ');
}

export function describeObservation(observation: Observation): string {
  const deciding = observation.result ? firstNonPass(observation.result) : undefined;
  return [
    observation.exitCode === undefined ? 'killed' : `exit ${observation.exitCode}`,
    observation.result?.outcome,
    deciding?.fault,
  ]
    .filter(Boolean)
    .join(' ');
}

/** Judges a case, records its row, and returns the problems (a test asserts they are none). */
export function verdictOf(group: string, name: string, observation: Observation, expected: Expectation): string[] {
  const problems = judge(observation, expected);
  recordRow({ group, name, expected: describeExpectation(expected), got: describeObservation(observation), elapsedMs: Math.round(observation.elapsedMs), problems });
  return problems;
}
