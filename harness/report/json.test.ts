import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InfrastructureError, InputError } from '../core/errors.js';
import type { RunResult } from '../core/model.js';
import { EventLog } from './events.js';
import { describeIoError } from './io-error.js';
import { parseResultJson, readResultJson, writeResultJson } from './json.js';
import { writeRunReports } from './write.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/results');
const load = (name: string): Promise<RunResult> => readResultJson(join(FIXTURES, name, 'result.json'));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qhil-json-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('result.json', () => {
  it('round-trips a RunResult and leaves no temporary file behind', async () => {
    const result = await load('fail');
    const file = await writeResultJson(dir, result);
    expect(file).toBe(join(dir, 'result.json'));
    expect(await readResultJson(file)).toEqual(result);
    expect(await readdir(dir)).toEqual(['result.json']);
  });

  it('replaces the file whole on every rewrite during a run', async () => {
    const result = await load('pass');
    await writeResultJson(dir, { ...result, boards: [] });
    await writeResultJson(dir, result);
    expect((await readResultJson(join(dir, 'result.json'))).boards).toHaveLength(1);
    expect(await readdir(dir)).toEqual(['result.json']);
  });

  it('reads a one-sided limit written as null (JSON has no Infinity) back as unbounded', async () => {
    const result = await load('fail');
    const m = result.boards[0]?.scenarios[0]?.steps[3]?.measurements[0];
    if (!m) throw new Error('fixture changed');
    m.limitLow = Number.NEGATIVE_INFINITY;
    const reread = parseResultJson(JSON.stringify(result), 'x/result.json');
    expect(reread.boards[0]?.scenarios[0]?.steps[3]?.measurements[0]?.limitLow).toBe(Number.NEGATIVE_INFINITY);
  });

  it('says which file is wrong and why', async () => {
    await expect(readResultJson(join(dir, 'missing.json'))).rejects.toThrow(`${join(dir, 'missing.json')}: cannot read: no such file`);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"runId": ');
    await expect(readResultJson(broken)).rejects.toThrow(new RegExp(`^${broken}: not valid JSON`));
    const wrong = join(dir, 'wrong.json');
    const result = await load('pass');
    await writeFile(wrong, JSON.stringify({ ...result, boards: [{ ...result.boards[0], scenarios: 'none' }] }));
    const error = await readResultJson(wrong).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(new RegExp(`^${wrong}: not a qhil result at boards\\.0\\.scenarios: `));
  });
});

describe('writeRunReports', () => {
  it('writes result.json, junit.xml, summary.md and report.html into the run folder', async () => {
    const result = await load('fail');
    const written = await writeRunReports(join(dir, 'run'), result);
    expect(written).toEqual(['result.json', 'junit.xml', 'summary.md', 'report.html'].map((f) => join(dir, 'run', f)));
    expect(await readResultJson(join(dir, 'run', 'result.json'))).toEqual(result);
    expect(await readFile(join(dir, 'run', 'junit.xml'), 'utf8')).toContain('<failure ');
    expect(await readFile(join(dir, 'run', 'summary.md'), 'utf8')).toContain('EC200UEUAAR03A01M08_OCPU_QPY');
  });
});

/**
 * A real read-only or tiny file system for the tests that need one: a tmpfs mounted over `dir`.
 * Needs root (CAP_SYS_ADMIN); elsewhere those tests are skipped, and describeIoError is still tested.
 */
function tryMount(dir: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'ignore' });
}

const canMount = ((): boolean => {
  const probe = mkdtempSync(join(tmpdir(), 'qhil-mount-probe-'));
  const ok = tryMount(probe, 'ro,size=16k');
  if (ok) unmount(probe);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();

describe('describeIoError', () => {
  it('names a read-only and a full disk plainly', () => {
    const error = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: x`), { code });
    expect(describeIoError(error('EROFS'))).toBe('read-only file system (EROFS)');
    expect(describeIoError(error('ENOSPC'))).toBe('no space left on device (disk full) (ENOSPC)');
    expect(describeIoError(new Error('odd'))).toBe('odd');
  });
});

describe.skipIf(!canMount)('writing reports to a read-only or full disk', () => {
  let mountPoint: string;
  let mounted = false;
  beforeEach(() => {
    mountPoint = join(dir, 'mnt');
    mkdirSync(mountPoint);
  });
  afterEach(() => {
    if (mounted) unmount(mountPoint);
    mounted = false;
  });

  it('says "read-only file system", not "no such file", when the run folder cannot be created', async () => {
    mounted = tryMount(mountPoint, 'ro,size=64k');
    const file = join(mountPoint, 'reports', 'run-1', 'result.json');
    const error = await writeResultJson(join(mountPoint, 'reports', 'run-1'), await load('pass')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as Error).message).toBe(`cannot write ${file}: read-only file system (EROFS)`);
  });

  it('says "read-only file system" when the folder exists but cannot be written', async () => {
    mounted = tryMount(mountPoint, 'ro,size=64k');
    await expect(writeRunReports(mountPoint, await load('pass'))).rejects.toThrow(
      `cannot write ${join(mountPoint, 'result.json')}: read-only file system (EROFS)`,
    );
    expect(() => new EventLog(join(mountPoint, 'run'))).toThrow(`cannot create ${join(mountPoint, 'run', 'events.jsonl')}: read-only file system (EROFS)`);
  });

  it('says the disk is full, names the file and leaves no temporary file behind', async () => {
    mounted = tryMount(mountPoint, 'size=64k');
    const result = await load('fail');
    const step = result.boards[0]?.scenarios[0]?.steps[3];
    if (!step) throw new Error('fixture changed');
    step.message = 'x'.repeat(200_000);
    const error = await writeResultJson(mountPoint, result).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as Error).message).toBe(`cannot write ${join(mountPoint, 'result.json')}: no space left on device (disk full) (ENOSPC)`);
    expect(await readdir(mountPoint)).toEqual([]);
  });

  it('says the disk is full when an event cannot be appended', () => {
    mounted = tryMount(mountPoint, 'size=16k');
    const log = new EventLog(mountPoint);
    try {
      const event = { type: 'log', at: '2025-03-04T02:00:00.000Z', level: 'info', message: 'x'.repeat(64_000) } as const;
      expect(() => log.append(event)).toThrow(`cannot append to ${join(mountPoint, 'events.jsonl')}: no space left on device (disk full) (ENOSPC)`);
    } finally {
      log.close();
    }
  });
});
