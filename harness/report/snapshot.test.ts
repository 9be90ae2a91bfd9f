import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../core/model.js';
import { ResultSnapshot } from './snapshot.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function record(tagBytes: number): RunResult {
  return {
    runId: 'r',
    tool: { name: 'qhil', version: '0.1.0' },
    startedAt: '2026-12-02T00:00:00.000Z',
    aborted: false,
    outcome: 'RUNNING',
    exitCode: 3,
    host: { hostname: 'h', platform: 'linux', node: 'v20' },
    tags: ['x'.repeat(tagBytes)],
    scenarios: [],
    boards: [],
    references: [],
  };
}

function snapshotOf(result: RunResult): { snapshot: ResultSnapshot; file: string; errors: unknown[] } {
  const dir = mkdtempSync(join(tmpdir(), 'qhil-snapshot-'));
  dirs.push(dir);
  const file = join(dir, 'result.json');
  const errors: unknown[] = [];
  return { snapshot: new ResultSnapshot(file, () => result, (error) => errors.push(error)), file, errors };
}

const read = (file: string): RunResult => JSON.parse(readFileSync(file, 'utf8')) as RunResult;

describe('ResultSnapshot', () => {
  it('writes a small record at once, at every request', () => {
    const result = record(10);
    const { snapshot, file } = snapshotOf(result);
    for (let i = 0; i < 5; i++) {
      result.runId = `r${i}`;
      snapshot.request();
      expect(read(file).runId).toBe(`r${i}`);
    }
    expect(snapshot.writes).toBe(5);
  });

  it('coalesces a large record: a burst of requests is a write or two, and the last state lands', async () => {
    const result = record(400 * 1024);
    const { snapshot, file } = snapshotOf(result);
    for (let i = 0; i < 500; i++) {
      result.runId = `r${i}`;
      snapshot.request();
    }
    expect(snapshot.writes).toBe(1);
    const deadline = Date.now() + 10_000;
    while (read(file).runId !== 'r499' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(read(file).runId).toBe('r499');
    expect(snapshot.writes).toBe(2);
    snapshot.close();
  });

  it('writes nothing more once closed', async () => {
    const result = record(400 * 1024);
    const { snapshot, file } = snapshotOf(result);
    snapshot.request();
    result.runId = 'late';
    snapshot.request();
    snapshot.close();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(read(file).runId).toBe('r');
  });

  it('reports a write that fails instead of throwing into the run', () => {
    const result = record(10);
    const errors: unknown[] = [];
    const snapshot = new ResultSnapshot('/proc/qhil-no-such-dir/result.json', () => result, (error) => errors.push(error));
    snapshot.request();
    expect(errors).toHaveLength(1);
  });
});
