/**
 * Side-by-side figures: a qhil figure beside its anchor (the tool it replaces, or a floor), both
 * measured in the same run, alternating (A B, then B A, ...) so drift in the machine's load falls on
 * both alike. Times on the host monotonic clock.
 */
import { spawn } from 'node:child_process';
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

export interface ProcessRun {
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Throws when the output is not what the command should print (a wrong answer is no figure). */
  check?: (stdout: string) => void;
  timeoutMs?: number;
}

/** Wall time of a whole process, spawn to exit, in ms; rejects on a non-zero exit or a timeout. */
export function timeProcess(what: ProcessRun): Promise<number> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(what.file, what.args, { env: what.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_CAP_BYTES) stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < OUTPUT_CAP_BYTES) stderr += chunk.toString('utf8');
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
      resolve(elapsedMs);
    });
  });
}
