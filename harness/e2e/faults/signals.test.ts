// Fault matrix, groups "signals" and "disk": a run stopped by a signal at several moments, killed
// outright, or writing to a full or read-only disk. Never a hang, never a PASS, nothing finished lost.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../core/model.js';
import { freshOutDir, observe, readRunFolder, runQhil, startQhil, verdictOf, type Observation } from './matrix.js';

const dir = mkdtempSync(join(tmpdir(), 'qhil-fault-signals-'));
const SCENARIO = join(dir, 'long.yaml');
writeFileSync(
  SCENARIO,
  'name: long\ntimeout: 1m\nsteps:\n  - read-time: { via: repl, as: t0 }\n  - wait: { for: 20s }\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 1, tolerance: 2s }\n',
);
const SHORT = join(dir, 'short.yaml');
writeFileSync(SHORT, 'name: short\ntimeout: 1m\nsteps:\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 1, tolerance: 2s }\n');

/** Resolves once the run's events.jsonl has a line matching `pattern` (the moment to act). */
async function waitForEvent(outDir: string, pattern: RegExp, deadlineMs: number): Promise<void> {
  const startedAt = performance.now();
  for (;;) {
    const { runDir } = readRunFolder(outDir);
    if (runDir && existsSync(join(runDir, 'events.jsonl')) && pattern.test(readFileSync(join(runDir, 'events.jsonl'), 'utf8'))) return;
    if (performance.now() - startedAt > deadlineMs) throw new Error(`no event ${pattern} within ${deadlineMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Stops a run with `signals` (one after the other) at the moment `when` names; returns what it left. */
async function stopped(signals: NodeJS.Signals[], when: 'starting' | 'mid-step'): Promise<Observation> {
  const outDir = freshOutDir();
  const startedAt = performance.now();
  const child = startQhil(['run', SCENARIO, '--board', 'sim', '--out', outDir], { deadlineMs: 30_000 });
  if (when === 'starting') await new Promise((resolve) => setTimeout(resolve, 700));
  else await waitForEvent(outDir, /"type":"step-start"[^\n]*"kind":"wait"/, 20_000);
  const signalledAt = performance.now();
  const signalledAtWallMs = Date.now();
  // As a user who presses Ctrl-C twice: the second once the first is being handled (signals sent
  // back to back may merge into one).
  let output = '';
  child.stderr?.on('data', (bytes: Buffer) => {
    output += bytes.toString();
  });
  for (const [index, signal] of signals.entries()) {
    child.kill(signal);
    if (index < signals.length - 1) {
      const until = performance.now() + 2000;
      while (!output.includes('stopping') && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
  const observation = await observe(child, startedAt, outDir);
  // The case is judged on the time from the signal: a stopped run must end at once.
  return { ...observation, elapsedMs: observation.elapsedMs - (signalledAt - startedAt), judgedFromMs: signalledAtWallMs };
}

function report(runDir: string): Promise<Observation> {
  return runQhil(['report', runDir], { deadlineMs: 5000 });
}

describe('fault matrix: a run stopped by a signal', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} mid-step: exit 3, ERROR, aborted, the finished step kept`, async () => {
      const observation = await stopped([signal], 'mid-step');
      const problems = verdictOf('signals', `${signal} mid-step`, observation, { exit: 3, outcome: 'ERROR', says: new RegExp(`${signal}: stopping`), deadlineMs: 3000 });
      expect(problems, observation.stderr).toEqual([]);
      expect(observation.result?.aborted).toBe(true);
      expect(observation.result?.boards[0]?.scenarios[0]?.steps[0]?.outcome).toBe('PASS');
    }, 50_000);
  }

  it('SIGINT while starting: exit 3, nothing reads as a pass', async () => {
    const observation = await stopped(['SIGINT'], 'starting');
    const problems = verdictOf('signals', 'SIGINT while starting', observation, { exit: 3, says: /SIGINT|stopped/, deadlineMs: 3000 });
    expect(problems, observation.stderr).toEqual([]);
    expect(observation.result?.outcome ?? 'none').not.toBe('PASS');
  }, 50_000);

  it('a second SIGINT leaves at once, exit 3; a record it leaves unfinished is no pass, and its report says so', async () => {
    const observation = await stopped(['SIGINT', 'SIGINT'], 'mid-step');
    // The stop may finish before the second signal lands (then the record is whole, ERROR); either way exit 3, never PASS.
    const problems = verdictOf('signals', 'double SIGINT mid-step', observation, { exit: 3, says: /SIGINT: stopping/, deadlineMs: 2000 });
    expect(problems, observation.stderr).toEqual([]);
    expect(['RUNNING', 'ERROR']).toContain(observation.result?.outcome);
    expect(observation.result?.aborted).toBe(true);
    const rendered = await report(observation.runDir ?? '');
    const reportProblems = verdictOf('signals', 'qhil report of a record left by a double SIGINT', rendered, { exit: 3, says: /unfinished|did not finish/i, deadlineMs: 5000 });
    expect(reportProblems, rendered.stderr).toEqual([]);
    expect(readFileSync(join(observation.runDir ?? '', 'junit.xml'), 'utf8')).toMatch(/<error/);
  }, 50_000);

  it('SIGKILL mid-step: the record says RUNNING, and a report from it is no pass', async () => {
    const observation = await stopped(['SIGKILL'], 'mid-step');
    expect(observation.exitCode).toBeUndefined();
    const result = observation.result as RunResult;
    expect(result.outcome).toBe('RUNNING');
    expect(result.boards[0]?.scenarios[0]?.current?.title).toMatch(/wait/);
    expect(result.boards[0]?.scenarios[0]?.steps[0]?.outcome).toBe('PASS');
    const rendered = await report(observation.runDir ?? '');
    const problems = verdictOf('signals', 'qhil report of a record left by SIGKILL', rendered, { exit: 3, says: /unfinished|did not finish/i, deadlineMs: 5000 });
    expect(problems, rendered.stderr).toEqual([]);
    expect(readFileSync(join(observation.runDir ?? '', 'junit.xml'), 'utf8')).toMatch(/<error/);
  }, 50_000);
});

/** True when this process may mount a tmpfs (root on Linux, as on CI); the disk cases need it. */
function canMount(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), 'qhil-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const mountable = canMount();

async function withMount<T>(options: string, work: (path: string) => Promise<T>): Promise<T> {
  const path = mkdtempSync(join(tmpdir(), 'qhil-fault-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path]);
  try {
    return await work(path);
  } finally {
    execFileSync('umount', ['-l', path]);
    rmSync(path, { recursive: true, force: true });
  }
}

describe.skipIf(!mountable)('fault matrix: the disk', () => {
  it('a read-only output folder: exit 3, saying so, nothing run as if it were fine', async () => {
    await withMount('ro,size=64k', async (path) => {
      const observation = await runQhil(['run', SHORT, '--board', 'sim', '--out', join(path, 'reports')], { deadlineMs: 8000 });
      const problems = verdictOf('disk', 'read-only output folder', observation, { exit: 3, says: /read-only file system/, deadlineMs: 8000 });
      expect(problems, observation.stderr).toEqual([]);
    });
  }, 30_000);

  it('a disk that fills during the run: exit 3, never a PASS, saying so', async () => {
    await withMount('size=12k', async (path) => {
      const outDir = join(path, 'reports');
      mkdirSync(outDir);
      const observation = await runQhil(['run', SHORT, '--board', 'sim', '--out', outDir], { deadlineMs: 8000, outDir });
      const problems = verdictOf('disk', 'disk full during the run', observation, { exit: 3, says: /no space left|ENOSPC/, deadlineMs: 8000 });
      expect(problems, observation.stderr).toEqual([]);
      expect(observation.result?.outcome ?? 'none').not.toBe('PASS');
    });
  }, 30_000);
});
