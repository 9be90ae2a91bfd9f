/**
 * history.html: every run folder under a reports directory, read from its result.json, as one
 * self-contained page: per board × scenario the outcome over time, the measured offset over time
 * with its uncertainty, the pass rate, firmware changes marked on the time axis, and the flaky cases
 * (an outcome that flips between runs with the same firmware; a step that passed only on retry).
 * Reading is parallel and bounded; rendering is pure.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { InputError } from '../core/errors.js';
import type { Measurement, RecordOutcome, RunResult } from '../core/model.js';
import { errorMessage } from '../core/errors.js';
import { formatMeasurementLimit, formatMeasurementValue, isUnfinished } from './format.js';
import { renderIntervalChart, type ChartMarker, type ChartPoint } from './html/chart.js';
import { esc } from './html/escape.js';
import { renderPage, renderToolbar } from './html/page.js';
import { readResultJson, RESULT_JSON, writeFileAtomic } from './json.js';

export const HISTORY_HTML = 'history.html';
/** Run folders may sit in groups (reports/nightly/<run-id>); deeper than this is not looked at. */
const MAX_DEPTH = 3;
/** result.json files read at once: enough to hide disk latency, few enough to stay within file limits. */
const READ_CONCURRENCY = 16;

export interface HistoryEntry {
  runId: string;
  runDir: string;
  /** Host wall-clock ms the scenario started. */
  startedAtMs: number;
  outcome: RecordOutcome | 'UNFINISHED';
  firmware: string;
  /** A step that passed only after a retry. */
  passedOnRetry: boolean;
  offset?: Measurement;
}

export interface HistorySeries {
  board: string;
  scenario: string;
  entries: HistoryEntry[];
  passRate: number | undefined;
  /** Changes of outcome between consecutive runs with the same firmware (PASS to FAIL/ERROR or back). */
  flips: { fromRun: string; toRun: string; firmware: string; from: string; to: string }[];
  passedOnRetry: string[];
  firmwareChanges: { atMs: number; runId: string; firmware: string }[];
}

export interface History {
  reportsDir: string;
  runs: number;
  firstMs?: number;
  lastMs?: number;
  series: HistorySeries[];
  /** Folders that looked like runs but could not be read, with why. */
  skipped: string[];
}

async function findRunDirs(dir: string, depth: number, found: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  if (entries.some((e) => e.isFile() && e.name === RESULT_JSON)) {
    found.push(dir);
    return;
  }
  if (depth >= MAX_DEPTH) return;
  for (const entry of entries) {
    if (entry.isDirectory() && entry.name !== 'transcripts' && !entry.name.startsWith('.')) await findRunDirs(join(dir, entry.name), depth + 1, found);
  }
}

async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}

/** The measurement a history follows for a scenario: the last offset-like interval it recorded. */
function trackedMeasurement(steps: RunResult['boards'][number]['scenarios'][number]['steps']): Measurement | undefined {
  const all = steps.flatMap((s) => s.measurements).filter((m) => Number.isFinite(m.value) && Number.isFinite(m.low) && Number.isFinite(m.high));
  return all.filter((m) => /offset/i.test(m.name)).at(-1) ?? all.at(-1);
}

/** Builds the history from results (pure, for tests and the bench). */
export function buildHistory(reportsDir: string, runs: { runDir: string; result: RunResult }[], skipped: string[] = []): History {
  const byKey = new Map<string, HistorySeries>();
  // A merged report (`qhil report a b --out c`) repeats runs that are there on their own.
  const own = runs.filter(({ result }) => !result.runId.includes('+'));
  let firstMs: number | undefined;
  let lastMs: number | undefined;
  for (const { runDir, result } of own) {
    const unfinished = isUnfinished(result);
    for (const board of result.boards) {
      for (const scenario of board.scenarios) {
        const key = `${board.id}\u0000${scenario.scenario}`;
        let series = byKey.get(key);
        if (!series) {
          series = { board: board.id, scenario: scenario.scenario, entries: [], passRate: undefined, flips: [], passedOnRetry: [], firmwareChanges: [] };
          byKey.set(key, series);
        }
        const startedAtMs = Date.parse(scenario.startedAt) || Date.parse(result.startedAt);
        firstMs = firstMs === undefined ? startedAtMs : Math.min(firstMs, startedAtMs);
        lastMs = lastMs === undefined ? startedAtMs : Math.max(lastMs, startedAtMs);
        series.entries.push({
          runId: result.runId,
          runDir,
          startedAtMs,
          outcome: unfinished && scenario.outcome === 'RUNNING' ? 'UNFINISHED' : scenario.outcome,
          firmware: board.identity?.firmware ?? 'unknown',
          passedOnRetry: scenario.steps.some((s) => s.outcome === 'PASS' && s.attempts > 1),
          offset: trackedMeasurement(scenario.steps),
        });
      }
    }
  }
  const series = [...byKey.values()];
  for (const s of series) {
    s.entries.sort((a, b) => a.startedAtMs - b.startedAtMs);
    const judged = s.entries.filter((e) => e.outcome !== 'SKIP');
    s.passRate = judged.length > 0 ? judged.filter((e) => e.outcome === 'PASS').length / judged.length : undefined;
    s.entries.forEach((entry, i) => {
      if (entry.passedOnRetry) s.passedOnRetry.push(entry.runId);
      const previous = s.entries[i - 1];
      if (!previous) return;
      if (previous.firmware !== entry.firmware) s.firmwareChanges.push({ atMs: entry.startedAtMs, runId: entry.runId, firmware: entry.firmware });
      const passFlip = (previous.outcome === 'PASS') !== (entry.outcome === 'PASS');
      const judgedBoth = previous.outcome !== 'SKIP' && entry.outcome !== 'SKIP';
      if (previous.firmware === entry.firmware && passFlip && judgedBoth) {
        s.flips.push({ fromRun: previous.runId, toRun: entry.runId, firmware: entry.firmware, from: previous.outcome, to: entry.outcome });
      }
    });
  }
  series.sort((a, b) => a.board.localeCompare(b.board) || a.scenario.localeCompare(b.scenario));
  return { reportsDir, runs: own.length, firstMs, lastMs, series, skipped };
}

/** Reads every run folder under `reportsDir`. A folder whose result.json is unreadable is listed, not fatal. */
export async function readHistory(reportsDir: string): Promise<History> {
  const dirs: string[] = [];
  await findRunDirs(reportsDir, 0, dirs);
  const skipped: string[] = [];
  const read = await mapBounded(dirs, READ_CONCURRENCY, async (runDir) => {
    try {
      return { runDir, result: await readResultJson(join(runDir, RESULT_JSON)) };
    } catch (error) {
      skipped.push(`${relative(reportsDir, runDir) || '.'}: ${errorMessage(error)}`);
      return undefined;
    }
  });
  return buildHistory(
    reportsDir,
    read.filter((r): r is { runDir: string; result: RunResult } => r !== undefined),
    skipped.sort(),
  );
}

function isFlaky(s: HistorySeries): boolean {
  return s.flips.length > 0 || s.passedOnRetry.length > 0;
}

function day(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

/** Outcome over time as a strip of squares, one per run, firmware changes as marks. */
function outcomeStrip(s: HistorySeries): string {
  const widthPx = 360;
  const n = s.entries.length;
  const cell = widthPx / Math.max(n, 1);
  const changes = new Set(s.firmwareChanges.map((c) => c.runId));
  const rects = s.entries
    .map((e, i) => {
      const x = (i * cell).toFixed(2);
      const mark = changes.has(e.runId) ? `<line x1="${x}" x2="${x}" y1="0" y2="18" stroke="var(--running)" stroke-width="1.5"/>` : '';
      return (
        `${mark}<rect class="o-${esc(e.outcome)}" x="${x}" y="3" width="${Math.max(cell - (n > 120 ? 0 : 1), 0.6).toFixed(2)}" height="12">` +
        `<title>${esc(`${day(e.startedAtMs)} ${e.runId}: ${e.outcome}, firmware ${e.firmware}${e.passedOnRetry ? ', passed on retry' : ''}`, 400)}</title></rect>`
      );
    })
    .join('');
  return `<svg class="strip" viewBox="0 0 ${widthPx} 18" width="${widthPx}" height="18" role="img"><title>${esc(`${s.board} ${s.scenario}: outcome per run`)}</title>${rects}</svg>`;
}

function offsetChart(s: HistorySeries): string {
  const withOffset = s.entries.filter((e): e is HistoryEntry & { offset: Measurement } => e.offset !== undefined);
  if (withOffset.length === 0) return '';
  const unit = withOffset[0]?.offset.unit ?? '';
  const points: ChartPoint[] = withOffset.map((e) => ({
    x: e.startedAtMs,
    value: e.offset.value,
    low: e.offset.low,
    high: e.offset.high,
    limitLow: e.offset.limitLow,
    limitHigh: e.offset.limitHigh,
    outcome: e.offset.outcome,
    label: `${day(e.startedAtMs)} ${e.runId}: ${formatMeasurementValue(e.offset)} (limit ${formatMeasurementLimit(e.offset)}), firmware ${e.firmware}`,
  }));
  const markers: ChartMarker[] = s.firmwareChanges.map((c) => ({ x: c.atMs, label: `firmware ${c.firmware}` }));
  return (
    `<figure class="history-chart" data-filterable data-board="${esc(s.board)}" data-series="${esc(`${s.board} / ${s.scenario}`)}">` +
    `<figcaption>${esc(s.board, 120)} / ${esc(s.scenario, 200)}: ${esc(withOffset[0]?.offset.name ?? 'offset')} over time, with uncertainty; firmware changes marked</figcaption>` +
    renderIntervalChart({ title: `${s.board} / ${s.scenario}`, unit, points, xKind: 'time', markers, widthPx: 900 }) +
    '</figure>'
  );
}

/** Renders history.html (pure). */
export function renderHistoryHtml(history: History): string {
  const flaky = history.series.filter(isFlaky);
  const flakyList = flaky.length
    ? `<ul>${flaky
        .map(
          (s) =>
            `<li data-filterable data-board="${esc(s.board)}"><strong>${esc(s.board, 120)} / ${esc(s.scenario, 200)}</strong>: ` +
            [
              s.flips.length ? `${s.flips.length} ${s.flips.length === 1 ? 'flip' : 'flips'} with the same firmware (e.g. ${esc(s.flips[0]?.from)} in ${esc(s.flips[0]?.fromRun, 200)} then ${esc(s.flips[0]?.to)} in ${esc(s.flips[0]?.toRun, 200)}, firmware ${esc(s.flips[0]?.firmware, 120)})` : '',
              s.passedOnRetry.length ? `passed only on retry in ${s.passedOnRetry.length} ${s.passedOnRetry.length === 1 ? 'run' : 'runs'} (last ${esc(s.passedOnRetry.at(-1), 200)})` : '',
            ]
              .filter(Boolean)
              .join('; ') +
            '</li>',
        )
        .join('')}</ul>`
    : '<p>No flaky cases: no outcome flipped between runs with the same firmware, and nothing passed only on retry.</p>';
  const rows = history.series
    .map((s) => {
      const firmwares = [...new Set(s.entries.map((e) => e.firmware))];
      return (
        `<tr data-filterable data-board="${esc(s.board)}" data-series="${esc(`${s.board} / ${s.scenario}`)}"${isFlaky(s) ? ' class="flaky"' : ''}>` +
        `<td>${esc(s.board, 120)}</td><td>${esc(s.scenario, 200)}</td><td>${s.entries.length}</td>` +
        `<td data-pass-rate="${s.passRate ?? ''}">${s.passRate === undefined ? '–' : `${(s.passRate * 100).toFixed(1)}%`}</td>` +
        `<td>${outcomeStrip(s)}</td><td class="mono">${esc(firmwares.slice(-3).join(', '), 400)}${firmwares.length > 3 ? ` (+${firmwares.length - 3})` : ''}</td>` +
        `<td>${isFlaky(s) ? '<strong>flaky</strong>' : ''}</td></tr>`
      );
    })
    .join('');
  const boards = [...new Set(history.series.map((s) => s.board))];
  const body =
    `<header><h1>qhil history</h1><p>${history.runs} runs, ${esc(day(history.firstMs))} to ${esc(day(history.lastMs))} UTC, ` +
    `${history.series.length} board × scenario series</p>` +
    (history.skipped.length
      ? `<details><summary>${history.skipped.length} folders not read</summary><pre>${esc(history.skipped.slice(0, 200).join('\n'), 40_000)}</pre></details>`
      : '') +
    '</header>' +
    renderToolbar({ outcomes: [], boards }) +
    `<section id="flaky"><h2>Flaky</h2>${flakyList}</section>` +
    `<section id="series"><h2>Outcome over time</h2><table><thead><tr><th>board</th><th>scenario</th><th>runs</th><th>pass rate</th>` +
    `<th>outcome per run (oldest left; violet line: firmware changed)</th><th>firmware</th><th></th></tr></thead><tbody>${rows}</tbody></table></section>` +
    `<section id="offsets"><h2>Offset over time</h2>${history.series.map(offsetChart).join('')}</section>`;
  return renderPage({
    title: `qhil history: ${history.runs} runs`,
    body,
    data: {
      runs: history.runs,
      series: history.series.map((s) => ({
        board: s.board,
        scenario: s.scenario,
        runs: s.entries.length,
        passRate: s.passRate,
        flips: s.flips.length,
        passedOnRetry: s.passedOnRetry.length,
        firmwareChanges: s.firmwareChanges.length,
      })),
    },
  });
}

/** Reads `reportsDir` and writes history.html (default: inside it); returns the path and the history. */
export async function writeHistory(reportsDir: string, out?: string): Promise<{ path: string; history: History }> {
  const history = await readHistory(reportsDir);
  if (history.runs === 0) throw new InputError(`${reportsDir}: no run folders (no result.json) found`);
  const path = out ?? join(reportsDir, HISTORY_HTML);
  await writeFileAtomic(path, renderHistoryHtml(history));
  return { path, history };
}
