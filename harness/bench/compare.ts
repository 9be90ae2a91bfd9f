/**
 * Side-by-side figures: a qhil figure beside its anchor (the tool it replaces, or a floor), both
 * measured in the same run, alternating (A B, then B A, ...) so drift in the machine's load falls on
 * both alike. Times on the host monotonic clock.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { median, round } from './stats.js';

export interface Subject {
  label: string;
  /** One run; resolves to its time in ms. */
  run: () => Promise<number>;
}

export interface Spread {
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export function spreadOf(samplesMs: readonly number[]): Spread {
  return { medianMs: median(samplesMs), minMs: Math.min(...samplesMs), maxMs: Math.max(...samplesMs) };
}

/** `142.1 ms (121.0–180.3)`: median, then min–max; sub-10 ms figures to the microsecond. */
export function formatSpread(spread: Spread, digits = spread.medianMs < 10 ? 3 : 1): string {
  return `${spread.medianMs.toFixed(digits)} ms (${spread.minMs.toFixed(digits)}–${spread.maxMs.toFixed(digits)})`;
}

/** Runs `ours` and `anchor` `runs` times each, alternating which goes first, after one warm-up run of each. */
export async function alternate(ours: Subject, anchor: Subject, runs: number): Promise<{ ours: Spread; anchor: Spread }> {
  await ours.run();
  await anchor.run();
  const oursMs: number[] = [];
  const anchorMs: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    if (i % 2 === 0) {
      oursMs.push(await ours.run());
      anchorMs.push(await anchor.run());
    } else {
      anchorMs.push(await anchor.run());
      oursMs.push(await ours.run());
    }
  }
  return { ours: spreadOf(oursMs), anchor: spreadOf(anchorMs) };
}

/**
 * The rows of one comparison: each side's median (min–max) and the ratio of the medians, with the
 * target when there is one (`<= 1.3x`), marked met or MISSED.
 */
export function comparisonRows(ours: Subject, anchor: Subject, result: { ours: Spread; anchor: Spread }, targetRatio?: number): Record<string, string> {
  const ratio = result.ours.medianMs / result.anchor.medianMs;
  const verdict = targetRatio === undefined ? '' : `  (target <= ${targetRatio}x: ${ratio <= targetRatio ? 'met' : 'MISSED'})`;
  return {
    [ours.label]: formatSpread(result.ours),
    [`  vs ${anchor.label}`]: formatSpread(result.anchor),
    [`  ratio to ${anchor.label}`]: `${round(ratio)}x${verdict}`,
  };
}

/** What a bench process printed, capped: enough to say why it failed. */
const OUTPUT_CAP_BYTES = 64 * 1024;
const PYTHON = '/usr/bin/python3';

/**
 * Spawns argv[1:] and reports its wall time and CPU time (user + system, from wait4's rusage, in
 * microseconds) on fd 3, then exits with the child's code. CPU time is the figure that holds on a
 * loaded machine: other processes' load stretches wall time, hardly the work a process does.
 * The wrapper's own start-up is outside both figures.
 */
const RUSAGE_WRAPPER = `
import os, sys, time
started = time.perf_counter_ns()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=[(os.POSIX_SPAWN_CLOSE, 3)])
_, status, usage = os.wait4(pid, 0)
wall_ms = (time.perf_counter_ns() - started) / 1e6
os.write(3, f"{wall_ms} {(usage.ru_utime + usage.ru_stime) * 1000}\\n".encode())
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
`;

export interface ProcessRun {
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Throws when the output is not what the command should print (a wrong answer is no figure). */
  check?: (stdout: string) => void;
  timeoutMs?: number;
}

export interface ProcessTimes {
  wallMs: number;
  /** User + system CPU of the process (and any it waited for); undefined without python3. */
  cpuMs?: number;
}

/** Wall time of a whole process, spawn to exit, in ms, and its CPU time; rejects on a non-zero exit or a timeout. */
export function timeProcess(what: ProcessRun): Promise<ProcessTimes> {
  const wrapped = existsSync(PYTHON);
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = wrapped
      ? spawn(PYTHON, ['-c', RUSAGE_WRAPPER, what.file, ...what.args], { env: what.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
      : spawn(what.file, what.args, { env: what.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let usage = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_CAP_BYTES) stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < OUTPUT_CAP_BYTES) stderr += chunk.toString('utf8');
    });
    (child.stdio[3] as NodeJS.ReadableStream | undefined)?.on('data', (chunk: Buffer) => {
      if (usage.length < 1024) usage += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), what.timeoutMs ?? 30_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      const elapsedMs = performance.now() - startedAt;
      clearTimeout(timer);
      const shown = `${what.file} ${what.args.join(' ')}`;
      if (code !== 0) {
        reject(new Error(`${shown}: exit ${code ?? signal}: ${stderr.slice(-400) || stdout.slice(-400)}`));
        return;
      }
      try {
        what.check?.(stdout);
      } catch (error) {
        reject(new Error(`${shown}: ${(error as Error).message}`));
        return;
      }
      const [wallMs, cpuMs] = usage.trim().split(' ').map(Number);
      resolve(wrapped && wallMs !== undefined && cpuMs !== undefined && Number.isFinite(cpuMs) ? { wallMs, cpuMs } : { wallMs: elapsedMs });
    });
  });
}

/** A process as one side of a comparison: its wall time is the figure, its CPU times are kept beside. */
export interface ProcessSubject extends Subject {
  cpuMs: number[];
}

export function processSubject(label: string, what: ProcessRun): ProcessSubject {
  const cpuMs: number[] = [];
  return {
    label,
    cpuMs,
    run: async () => {
      const times = await timeProcess(what);
      if (times.cpuMs !== undefined) cpuMs.push(times.cpuMs);
      return times.wallMs;
    },
  };
}

/** Wall-time rows (comparisonRows), then the CPU times' medians and their ratio (the warm-up runs left out). */
export function processComparisonRows(
  ours: ProcessSubject,
  anchor: ProcessSubject,
  result: { ours: Spread; anchor: Spread },
  targetRatio?: number,
): Record<string, string> {
  const rows = comparisonRows(ours, anchor, result, targetRatio);
  const oursCpu = ours.cpuMs.slice(1);
  const anchorCpu = anchor.cpuMs.slice(1);
  if (oursCpu.length === 0 || anchorCpu.length === 0) return rows;
  const [oursMs, anchorMs] = [median(oursCpu), median(anchorCpu)];
  return { ...rows, [`  CPU (user+sys), vs ${anchor.label}`]: `${oursMs.toFixed(1)} ms vs ${anchorMs.toFixed(1)} ms: ${round(oursMs / anchorMs)}x` };
}
