import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunResult } from '../core/model.js';
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
    expect(stdout).toBe(`wrote ${join(run, 'junit.xml')}\nwrote ${join(run, 'summary.md')}\nwrote ${join(run, 'report.html')}\n`);
    expect(await readFile(join(run, 'junit.xml'), 'utf8')).toMatch(/<failure message="#4 compare/);
    expect(await readFile(join(run, 'report.html'), 'utf8')).toContain('EC200UEUAAR03A01M08_OCPU_QPY');
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
    expect(junit).toMatch(/<testsuites [^>]*tests="3" failures="1" errors="1"/);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('ec200u-02');
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

describe('qhil report history', () => {
  it('writes history.html over every run folder under the directory, naming a folder it could not read', async () => {
    await writeFile(join(dir, 'skip', 'result.json'), '{"runId": "x"}');
    const { code, stdout, stderr } = await qhil('report', 'history', dir);
    expect(code).toBe(0);
    expect(stdout).toBe(`wrote ${join(dir, 'history.html')} (5 runs, 3 board × scenario series)\n`);
    expect(stderr).toBe('qhil report history: 1 folders not read (listed in the page)\n');
    const html = await readFile(join(dir, 'history.html'), 'utf8');
    expect(html).toContain('ec200u-01');
    expect(html).toContain('skip: ');
  });

  it('exits 2 for a folder that does not exist or holds no runs', async () => {
    expect((await qhil('report', 'history', join(dir, 'nope'))).code).toBe(2);
    await mkdir(join(dir, 'empty'));
    const empty = await qhil('report', 'history', join(dir, 'empty'));
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no run folders (no result.json) found');
  });
});

describe('qhil report, unfinished records', () => {
  it('renders a record left RUNNING as UNFINISHED and exits 3, never 0', async () => {
    const run = join(dir, 'unfinished');
    const { code, stdout, stderr } = await qhil('report', run);
    expect(code).toBe(3);
    expect(stdout).toBe(`wrote ${join(run, 'junit.xml')}\nwrote ${join(run, 'summary.md')}\nwrote ${join(run, 'report.html')}\n`);
    expect(stderr).toContain(`${join(run, 'result.json')}: the run did not finish (its record was left RUNNING`);
    expect((await readFile(join(run, 'summary.md'), 'utf8')).split('\n')[0]).toBe('# qhil 20250304-020000-unfinished: UNFINISHED');
    expect(await readFile(join(run, 'junit.xml'), 'utf8')).toMatch(/<error message="the run did not finish[^"]*" type="unfinished"/);
  });

  it('exits 3 for an aborted record with a RUNNING scenario, and for a RUNNING run of passes', async () => {
    const changes: [string, (record: RunResult) => void][] = [
      ['aborted', (record) => void Object.assign(record.boards[0]?.scenarios[0] ?? {}, { outcome: 'RUNNING' })],
      ['pass', (record) => void (record.outcome = 'RUNNING')],
    ];
    for (const [name, change] of changes) {
      const file = join(dir, name, 'result.json');
      const record = await readResultJson(file);
      change(record);
      await writeFile(file, JSON.stringify(record));
      const { code } = await qhil('report', join(dir, name));
      expect(code, name).toBe(3);
      expect(await readFile(join(dir, name, 'summary.md'), 'utf8')).toMatch(/^# qhil \S+: UNFINISHED/);
    }
  });

  it('exits 3 when an unfinished run is merged with finished ones, and the merge keeps it unfinished', async () => {
    const out = join(dir, 'merged');
    const { code } = await qhil('report', join(dir, 'pass'), join(dir, 'unfinished'), '--out', out);
    expect(code).toBe(3);
    const merged = await readResultJson(join(out, 'result.json'));
    expect(merged.outcome).toBe('RUNNING');
    expect(merged.exitCode).toBe(3);
    const notRun = merged.boards[1]?.scenarios.find((s) => s.scenario === 'ntp-sync-at');
    expect(notRun).toMatchObject({ outcome: 'ERROR', message: expect.stringMatching(/did not finish/) as unknown });
    expect((await readFile(join(out, 'summary.md'), 'utf8')).split('\n')[0]).toMatch(/: UNFINISHED$/);
  });
});

/** A tmpfs over `path` (root only); false when this machine does not allow it. */
function tryMount(path: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const canMount = ((): boolean => {
  const probe = mkdtempSync(join(tmpdir(), 'qhil-mount-probe-'));
  const ok = tryMount(probe, 'ro,size=16k');
  if (ok) execFileSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();

describe.skipIf(!canMount)('qhil report, read-only output', () => {
  it('exits 3 saying "read-only file system" and naming the file', async () => {
    const mountPoint = join(dir, 'ro');
    mkdirSync(mountPoint);
    expect(tryMount(mountPoint, 'ro,size=64k')).toBe(true);
    try {
      const out = join(mountPoint, 'merged');
      const { code, stderr } = await qhil('report', join(dir, 'pass'), join(dir, 'fail'), '--out', out);
      expect(code).toBe(3);
      expect(stderr).toBe(`qhil report: cannot write ${join(out, 'result.json')}: read-only file system (EROFS)\n`);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  });
});
