/**
 * report.pdf: printed by Chromium, read back with pdftotext (poppler-utils): page numbers, every
 * board's firmware and the verdict on page 1; and a missing browser costs the PDF, not the exit code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../cli/command.js';
import { main } from '../cli/main.js';
import { BROWSER_ENV, chooseBrowser, DEFAULT_BROWSER } from './browser.js';
import { readResultJson } from './json.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/results');
const hasBrowser = existsSync(process.env[BROWSER_ENV] ?? DEFAULT_BROWSER);
const hasPdftotext = spawnSync('pdftotext', ['-v']).status === 0;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qhil-pdf-'));
  await cp(FIXTURES, dir, { recursive: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function qhil(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), interactive: false };
  const code = await main(['node', 'qhil', ...args], io);
  return { code, stdout, stderr };
}

function pdfText(file: string, pages?: { first: number; last: number }): string {
  const range = pages ? ['-f', String(pages.first), '-l', String(pages.last)] : [];
  const run = spawnSync('pdftotext', ['-layout', ...range, file, '-'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`pdftotext: ${run.stderr}`);
  return run.stdout;
}

describe('choosing the browser', () => {
  it('takes --browser, else $QHIL_BROWSER, else /usr/bin/chromium', () => {
    expect(chooseBrowser('/opt/chrome', { [BROWSER_ENV]: '/x' })).toEqual({ path: '/opt/chrome', from: '--browser' });
    expect(chooseBrowser(undefined, { [BROWSER_ENV]: '/x' })).toEqual({ path: '/x', from: BROWSER_ENV });
    expect(chooseBrowser(undefined, {})).toEqual({ path: '/usr/bin/chromium', from: 'the default' });
  });
});

describe('qhil report --pdf without a browser', () => {
  it('writes every other report, says why in one line, and keeps the exit code', async () => {
    const run = join(dir, 'fail');
    const { code, stdout, stderr } = await qhil('report', run, '--pdf', '--browser', join(dir, 'no-such-chromium'));
    expect(code).toBe(0);
    expect(stdout).toContain(`wrote ${join(run, 'report.html')}`);
    expect(stderr).toBe(`qhil: no report.pdf: no browser at ${join(dir, 'no-such-chromium')} (from --browser); give --browser <path> or set QHIL_BROWSER\n`);
    expect(existsSync(join(run, 'report.pdf'))).toBe(false);
    const unfinished = await qhil('report', join(dir, 'unfinished'), '--pdf', '--browser', '/nonexistent');
    expect(unfinished.code).toBe(3);
  });

  it('qhil run --pdf: the run passes and exits 0, with one line saying why there is no PDF', async () => {
    const scenario = join(import.meta.dirname, '../../scenarios/demo.yaml');
    const out = join(dir, 'runs');
    const { code, stdout, stderr } = await qhil('run', scenario, '--board', 'sim', '--out', out, '--pdf', '--browser', '/nonexistent/chromium');
    expect(code).toBe(0);
    expect(stdout).toContain('PASS');
    expect(stderr).toBe('qhil: no report.pdf: no browser at /nonexistent/chromium (from --browser); give --browser <path> or set QHIL_BROWSER\n');
  }, 60_000);
});

describe.skipIf(!hasBrowser || !hasPdftotext)('report.pdf through Chromium', () => {
  it('a merged run: A4 pages numbered, page 1 holds every firmware, the verdict and the sign-off', async () => {
    const out = join(dir, 'merged');
    const runs = ['pass', 'fail', 'error'].map((name) => join(dir, name));
    const { code, stdout, stderr } = await qhil('report', ...runs, '--out', out, '--pdf');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`wrote ${join(out, 'report.pdf')}`);
    const merged = await readResultJson(join(out, 'result.json'));
    const all = pdfText(join(out, 'report.pdf'));
    const pages = all.split('\f').filter((page) => page.trim() !== '');
    expect(pages.length).toBeGreaterThan(1);
    pages.forEach((page, i) => expect(page).toContain(`page ${i + 1} of ${pages.length}`));
    const first = pdfText(join(out, 'report.pdf'), { first: 1, last: 1 });
    for (const board of merged.boards) expect(first).toContain(board.identity?.firmware ?? 'firmware not read');
    expect(first).toMatch(/Verdict\s+ERROR/);
    expect(first).toContain('Sign-off');
    expect(first).toContain('scenarios/ntp-sync-repl.yaml');
    expect(first).toMatch(new RegExp(`qhil version\\s+${merged.tool.version.replace(/\./g, '\\.')}`));
    const info = spawnSync('pdfinfo', [join(out, 'report.pdf')], { encoding: 'utf8' });
    if (info.status === 0) expect(info.stdout).toMatch(/Page size:\s+59\d\.\d+ x 84\d\.\d+ pts \(A4\)/);
  }, 90_000);
});
