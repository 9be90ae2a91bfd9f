import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readResultJson } from '../report/json.js';
import type { CliIo } from './command.js';
import { main } from './main.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/results');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qhil-report-cli-'));
  await cp(FIXTURES, dir, { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function qhil(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), interactive: false };
  const code = await main(['node', 'qhil', ...args], io);
  return { code, stdout, stderr };
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

describe('qhil report', () => {
  it('re-renders junit.xml and summary.md in place from result.json, leaving result.json as it was', async () => {
    const run = join(dir, 'fail');
    const before = await readFile(join(run, 'result.json'), 'utf8');
    const { code, stdout, stderr } = await qhil('report', run);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(`wrote ${join(run, 'junit.xml')}\nwrote ${join(run, 'summary.md')}\n`);
    expect(await readFile(join(run, 'junit.xml'), 'utf8')).toMatch(/<failure message="#4 compare/);
    expect(await readFile(join(run, 'summary.md'), 'utf8')).toContain('| offset | +3.41s ±0.52s | ±2s | FAIL |');
    expect(await readFile(join(run, 'result.json'), 'utf8')).toBe(before);
  });

  it('merges several runs into one report in --out', async () => {
    const out = join(dir, 'merged');
    const runs = ['pass', 'fail', 'error'].map((name) => join(dir, name));
    const { code, stdout } = await qhil('report', ...runs, '--out', out);
    expect(code).toBe(0);
    expect(stdout).toContain(`wrote ${join(out, 'junit.xml')}`);

    const merged = await readResultJson(join(out, 'result.json'));
    expect(merged.boards.map((b) => b.id)).toEqual(['sim-1', 'ec200u-01', 'ec200u-02']);
    expect(merged.outcome).toBe('ERROR');
    // One failed, one erred: the failure is the verdict that decides the exit code, as in a run.
    expect(merged.exitCode).toBe(1);
    expect(merged.boards[1]?.transcripts[0]).toBe('../fail/transcripts/ec200u-01-repl.log');

    const junit = await readFile(join(out, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testsuites [^>]*tests="3" failures="1" errors="1" skipped="0"/);
    const summary = await readFile(join(out, 'summary.md'), 'utf8');
    expect(summary.split('\n')[0]).toBe('# qhil 20250304-020000-pass+20250304-020000-fail+20250304-020000-error: ERROR');
    for (const run of ['pass', 'fail', 'error']) expect(summary).toContain(`### Run 20250304-020000-${run}:`);
    // The inputs are left as they were.
    expect(await exists(join(dir, 'pass', 'junit.xml'))).toBe(false);
  });

  it('records the scenarios an aborted run never started when merging it', async () => {
    const out = join(dir, 'merged');
    expect((await qhil('report', join(dir, 'aborted'), join(dir, 'pass'), '--out', out)).code).toBe(0);
    const merged = await readResultJson(join(out, 'result.json'));
    const notRun = merged.boards[0]?.scenarios.find((s) => s.scenario === 'ntp-sync-at');
    expect(notRun).toMatchObject({ outcome: 'SKIP', message: expect.stringMatching(/aborted before this scenario started/) as unknown });
    expect(merged.aborted).toBe(true);
  });

  it('exits 2 naming the file and the reason when result.json is missing or invalid', async () => {
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'skip', 'result.json'), '{"runId": "x"}');
    const { code, stderr, stdout } = await qhil('report', join(dir, 'pass'), join(dir, 'empty'), join(dir, 'skip'), '--out', join(dir, 'o'));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`qhil report: ${join(dir, 'empty', 'result.json')}: cannot read: no such file\n`);
    expect(stderr).toContain(`qhil report: ${join(dir, 'skip', 'result.json')}: not a qhil result at tool: `);
    expect(await exists(join(dir, 'o'))).toBe(false);
  });

  it('exits 2 for a run folder that does not exist', async () => {
    const { code, stderr } = await qhil('report', join(dir, 'nope'));
    expect(code).toBe(2);
    expect(stderr).toContain(`${join(dir, 'nope')}: not a run folder`);
  });

  it('asks for --out before merging, and refuses to overwrite an input with the merge', async () => {
    const runs = [join(dir, 'pass'), join(dir, 'fail')];
    const noOut = await qhil('report', ...runs);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain('--out <dir> is required to merge several runs');
    const before = await readFile(join(dir, 'pass', 'result.json'), 'utf8');
    const clash = await qhil('report', ...runs, '--out', join(dir, 'pass'));
    expect(clash.code).toBe(2);
    expect(await readFile(join(dir, 'pass', 'result.json'), 'utf8')).toBe(before);
  });
});
