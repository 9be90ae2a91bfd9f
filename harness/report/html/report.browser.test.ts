/**
 * report.html and history.html in a real Chromium (Debian's, through playwright-core; one browser for
 * the file): no console error, no request of any kind, the figures shown match result.json, hostile
 * board text shows as text and runs nothing, and a screenshot has something on it.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CliIo } from '../../cli/command.js';
import type { RunResult } from '../../core/model.js';
import { runScenarios } from '../../runner/run.js';
import { loadScenario } from '../../runner/scenario.js';
import { startSimWorld } from '../../runner/sim-world.js';
import { HOSTILE_LINE, HOSTILE_OUTPUT } from '../../testing/hostile-board.js';
import { DEFAULT_BROWSER, openBrowser, type OpenBrowser } from '../browser.js';
import { countNotRun, countOutcomes, allScenarios, describeCounts } from '../format.js';
import { readResultJson } from '../json.js';
import { writeRenderedReports } from '../write.js';
import { writeHistory } from '../history.js';
import { boardPoints, verdictOf } from './report.js';
import { inkShare, openChecked, type CheckedPage } from './page-check.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIXTURES = join(ROOT, 'fixtures/results');
const hasBrowser = existsSync(process.env.QHIL_BROWSER ?? DEFAULT_BROWSER);

let dir: string;
let browser: OpenBrowser;
const silentIo: CliIo = { stdout: () => undefined, stderr: () => undefined, interactive: false };

beforeAll(async () => {
  if (!hasBrowser) return;
  dir = await mkdtemp(join(tmpdir(), 'qhil-html-'));
  await cp(FIXTURES, join(dir, 'fixtures'), { recursive: true });
  browser = await openBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pages: CheckedPage[] = [];
async function open(file: string): Promise<CheckedPage> {
  const checked = await openChecked(browser.context, pathToFileURL(file).href);
  pages.push(checked);
  return checked;
}

/** Everything the page must show for `result`, read back from the DOM. */
async function expectMatches(checked: CheckedPage, result: RunResult): Promise<void> {
  const { page } = checked;
  expect(await page.locator('#verdict').innerText()).toBe(verdictOf(result));
  expect(await page.locator('#totals').innerText()).toBe(describeCounts(countOutcomes(allScenarios(result)), countNotRun(result)));
  const cards = page.locator('[data-card]');
  expect(await cards.count()).toBe(result.boards.length);
  for (const [i, board] of result.boards.entries()) {
    const card = cards.nth(i);
    expect(await card.getAttribute('data-card')).toBe(board.id);
    expect(await card.locator('[data-field=firmware]').innerText()).toBe(board.identity?.firmware ?? 'not known');
    const shown = await page
      .locator('section.board')
      .nth(i)
      .locator('svg[data-panel=full] g.pt')
      .evaluateAll((points) => points.map((p) => Number(p.getAttribute('data-value'))));
    expect(shown.sort((a, b) => a - b)).toEqual(boardPoints(board).map((p) => p.measurement.value).sort((a, b) => a - b));
  }
  expect(checked.requests).toEqual([]);
  expect(checked.errors).toEqual([]);
}

describe.skipIf(!hasBrowser)('report.html in Chromium', () => {
  it('a demo run: figures match result.json, filters and the theme toggle work, the screenshot has ink', async () => {
    const scenario = loadScenario(join(ROOT, 'scenarios/demo.yaml'));
    const world = await startSimWorld([scenario]);
    let runDir: string;
    try {
      const output = await runScenarios({
        scenarios: [scenario],
        boards: [{ id: 'sim-1', sim: { profile: 'ec200u', offsetMs: 0, faults: [] }, fields: {} }],
        outDir: join(dir, 'runs'),
        reference: world.reference,
        simHosts: world.hosts,
      });
      runDir = output.runDir;
    } finally {
      await world.close();
    }
    const result = await readResultJson(join(runDir, 'result.json'));
    expect(boardPoints(result.boards[0] as RunResult['boards'][number]).length).toBeGreaterThan(0);
    const checked = await open(join(runDir, 'report.html'));
    await expectMatches(checked, result);
    const { page } = checked;
    // Transcripts: both directions, host timestamps, collapsible.
    const transcript = page.locator('details.transcript-file').first();
    expect(await transcript.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(false);
    await transcript.locator('summary').click();
    expect(await transcript.locator('.transcript .tx').count()).toBeGreaterThan(0);
    expect(await transcript.locator('.transcript .rx').count()).toBeGreaterThan(0);
    expect(await transcript.locator('.transcript .t').first().innerText()).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
    // Filter: hide PASS, the passing scenario goes; the theme toggle flips the theme.
    const scenarioBlock = page.locator('details.scenario').first();
    expect(await scenarioBlock.isVisible()).toBe(true);
    await page.locator('input[data-filter-outcome=PASS]').uncheck();
    expect(await scenarioBlock.isVisible()).toBe(false);
    await page.locator('input[data-filter-outcome=PASS]').check();
    await page.emulateMedia({ colorScheme: 'light' });
    await page.locator('#theme').click();
    expect(await page.evaluate('document.documentElement.getAttribute("data-theme")')).toBe('dark');
    const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(background).toBe('rgb(13, 17, 23)');
    const shot = await page.screenshot({ fullPage: true });
    expect(inkShare(shot)).toBeGreaterThan(0.02);
    expect(checked.errors).toEqual([]);
    expect(checked.requests).toEqual([]);
  }, 120_000);

  it('a failing run, a rig error and a merged run: figures match, failures open first with their reason', async () => {
    const fixtures = join(dir, 'fixtures');
    for (const name of ['fail', 'error']) {
      expect(await main(['node', 'qhil', 'report', join(fixtures, name)], silentIo)).toBe(0);
      const result = await readResultJson(join(fixtures, name, 'result.json'));
      const checked = await open(join(fixtures, name, 'report.html'));
      await expectMatches(checked, result);
      const first = checked.page.locator('details.scenario').first();
      expect(await first.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(true);
      expect(await first.locator('pre.reason').innerText()).toBe(result.boards[0]?.scenarios[0]?.steps.find((s) => s.outcome !== 'PASS')?.message);
    }
    const merged = join(dir, 'merged');
    const runs = ['pass', 'fail', 'error', 'skip'].map((name) => join(fixtures, name));
    expect(await main(['node', 'qhil', 'report', ...runs, '--out', merged], silentIo)).toBe(0);
    const result = await readResultJson(join(merged, 'result.json'));
    const checked = await open(join(merged, 'report.html'));
    await expectMatches(checked, result);
    // Failures and errors are listed first, before the boards' sections.
    const problems = await checked.page.locator('#problems li').evaluateAll((all) => all.map((li) => li.getAttribute('data-outcome')));
    expect(problems).toEqual(['FAIL', 'ERROR']);
    // Filter by board.
    await checked.page.locator('#filter-board').selectOption('ec200u-01');
    const visible = await checked.page.locator('section.board').evaluateAll((all) => all.filter((s) => !s.classList.contains('hide')).map((s) => s.getAttribute('data-board')));
    expect(visible).toEqual(['ec200u-01']);
  }, 120_000);

  it('a hostile board: markup, </script>, ANSI escapes and javascript: links show as text and run nothing', async () => {
    const runDir = join(dir, 'hostile');
    await mkdir(join(runDir, 'transcripts'), { recursive: true });
    const result = await readResultJson(join(dir, 'fixtures/fail/result.json'));
    const board = result.boards[0];
    const step = board?.scenarios[0]?.steps[3];
    if (!board || !step) throw new Error('fixture changed');
    const img = '<img src=x onerror="window.__pwned=1">';
    const script = '</script><script>window.__pwned=2</script>';
    const ansi = '\x1b[31mRED\x1b[0m';
    board.id = `b${img}`;
    board.identity = { model: img, firmware: `${script}${ansi}`, quecpython: HOSTILE_LINE, imei: '<b>1</b>', details: {} };
    board.transcripts = ['transcripts/hostile.log', 'javascript:window.__pwned=4'];
    board.scenarios[0] = { ...(board.scenarios[0] as RunResult['boards'][number]['scenarios'][number]), scenario: `s${script}` };
    step.message = `${HOSTILE_OUTPUT}${img}${script}${ansi}`;
    step.data = { raw: script };
    const during = new Date(Date.parse(step.startedAt) + 1).toISOString();
    const bytes = Buffer.concat([Buffer.from(`${img}${script}${ansi}`), Buffer.from([0xff, 0x0d, 0x0a])]);
    await writeFile(
      join(runDir, 'transcripts/hostile.log'),
      `${during} -- open ${img}\n${during} tx ${JSON.stringify('AT\r')}\n${during} rx ${JSON.stringify(bytes.toString('latin1'))}\n`,
    );
    await writeFile(join(runDir, 'result.json'), JSON.stringify(result));
    await writeRenderedReports(runDir, result);
    const html = await readFile(join(runDir, 'report.html'), 'utf8');
    expect(html).not.toContain(img);
    expect(html.split('</script>').length).toBe(3); // the JSON data block and the page's own script only
    const checked = await open(join(runDir, 'report.html'));
    const { page } = checked;
    await page.locator('details.transcript-file summary').first().click();
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(2);
    expect(await page.locator('a[href^="javascript"]').count()).toBe(0);
    const text = await page.locator('body').innerText();
    expect(text).toContain('<img src=x onerror="window.__pwned=1">');
    expect(text).toContain('</script><script>window.__pwned=2</script>');
    expect(text).toContain('\\x1b[31mRED\\x1b[0m');
    expect(text).not.toContain('\x1b');
    expect(await page.locator('[data-card]').getAttribute('data-card')).toBe(board.id);
    expect(await page.locator('.transcript .rx').first().innerText()).toContain(img);
    const data = JSON.parse((await page.locator('#qhil-data').textContent()) ?? '') as { boards: { id: string }[] };
    expect(data.boards[0]?.id).toBe(board.id);
    expect(checked.requests).toEqual([]);
    expect(checked.errors).toEqual([]);
  }, 60_000);
});

describe.skipIf(!hasBrowser)('history.html in Chromium', () => {
  it('500 run folders: the drifting board trends, firmware changes are marked, flaky cases called out', async () => {
    const reports = join(dir, 'history');
    const template = await readResultJson(join(FIXTURES, 'pass', 'result.json'));
    const startMs = Date.parse('2026-01-01T02:00:00Z');
    for (let i = 0; i < 500; i++) {
      const result = structuredClone(template);
      const at = new Date(startMs + i * 3_600_000).toISOString();
      result.runId = `run-${String(i).padStart(3, '0')}`;
      result.startedAt = at;
      for (const board of result.boards) {
        board.identity = { ...(board.identity ?? { details: {} }), firmware: i < 250 ? 'FW_A' : 'FW_B' };
        for (const scenario of board.scenarios) {
          scenario.startedAt = at;
          // Board sim-1's clock drifts by 4 ms per run; a second, flaky one flips every 50th run.
          for (const m of scenario.steps.flatMap((s) => s.measurements)) Object.assign(m, { value: i * 4, low: i * 4 - 500, high: i * 4 + 500 });
        }
      }
      const flaky = structuredClone(result.boards[0] as RunResult['boards'][number]);
      flaky.id = 'flaky-1';
      for (const scenario of flaky.scenarios) scenario.outcome = i % 50 === 7 ? 'FAIL' : 'PASS';
      result.boards.push(flaky);
      await mkdir(join(reports, result.runId), { recursive: true });
      await writeFile(join(reports, result.runId, 'result.json'), JSON.stringify(result));
    }
    const { path, history } = await writeHistory(reports);
    expect(history.runs).toBe(500);
    const checked = await open(path);
    const { page } = checked;
    const series = page.locator(`figure.history-chart[data-board="${template.boards[0]?.id}"]`);
    expect(await series.count()).toBe(1);
    const points = await series
      .locator('svg[data-panel=full] g.pt')
      .evaluateAll((all) => all.map((g) => ({ x: Number(g.getAttribute('data-x')), cy: Number(g.querySelector('circle')?.getAttribute('cy')) })));
    expect(points).toHaveLength(500);
    // The offset rises run by run: on screen, later points sit higher (smaller y).
    const first = points.slice(0, 50).reduce((s, p) => s + p.cy, 0) / 50;
    const last = points.slice(-50).reduce((s, p) => s + p.cy, 0) / 50;
    expect(last).toBeLessThan(first - 20);
    expect(await series.locator('g.marker').count()).toBe(1);
    expect(await series.locator('g.marker').textContent()).toContain('FW_B');
    const flakyText = await page.locator('#flaky').innerText();
    expect(flakyText).toContain('flaky-1');
    expect(flakyText).not.toContain(`${template.boards[0]?.id} /`);
    expect(checked.requests).toEqual([]);
    expect(checked.errors).toEqual([]);
    expect(inkShare(await page.screenshot())).toBeGreaterThan(0.02);
  }, 120_000);
});
