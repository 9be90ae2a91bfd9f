/**
 * report.html: one self-contained page per run, rendered from result.json (never from live state)
 * and the attachments read beside it. Readable without JavaScript: the verdict, totals, board cards,
 * the sign-off block, failures first with their reason and transcript tail, inline SVG offset charts,
 * collapsible transcripts. The script only adds filters and the theme toggle.
 */
import { formatDurationMs } from '../../core/duration.js';
import type { BoardResult, Measurement, RecordOutcome, RunResult, ScenarioResult, StepResult } from '../../core/model.js';
import {
  allScenarios,
  boardModel,
  countNotRun,
  countOutcomes,
  decidingStep,
  describeCounts,
  formatMeasurementLimit,
  formatMeasurementValue,
  isUnfinished,
  scenarioFault,
  scenarioReasons,
  stepLabel,
  stepWhere,
} from '../format.js';
import type { ReportAttachments, TranscriptLine, TranscriptView } from './attachments.js';
import { renderIntervalChart, type ChartPoint } from './chart.js';
import { esc, safeHref } from './escape.js';
import { renderPage, renderToolbar } from './page.js';

export const REPORT_HTML = 'report.html';

/** Lines of transcript shown under a failing step: where it happened, not the whole file. */
const TAIL_LINES = 30;
/** The order scenarios are listed in: what needs a person's attention first. */
const ATTENTION: Record<RecordOutcome, number> = { FAIL: 0, ERROR: 1, RUNNING: 2, SKIP: 3, PASS: 4 };

export function verdictOf(result: RunResult): string {
  return isUnfinished(result) ? 'UNFINISHED' : result.outcome;
}

/** One board's compare-like measurements (a value with an interval), for its charts and tests. */
export interface BoardPoint {
  board: string;
  scenario: string;
  step: string;
  measurement: Measurement;
}

export function boardPoints(board: BoardResult): BoardPoint[] {
  return board.scenarios.flatMap((scenario) =>
    scenario.steps.flatMap((step) =>
      step.measurements
        .filter((m) => Number.isFinite(m.value) && Number.isFinite(m.low) && Number.isFinite(m.high))
        .map((measurement) => ({ board: board.id, scenario: scenario.scenario, step: stepLabel(step), measurement })),
    ),
  );
}

function badge(outcome: string): string {
  return `<span class="badge o-${esc(outcome)}">${esc(outcome)}</span>`;
}

function firmwareGroups(result: RunResult): { model: string; firmware: string; quecpython: string; boards: string[] }[] {
  const groups = new Map<string, { model: string; firmware: string; quecpython: string; boards: string[] }>();
  for (const board of result.boards) {
    const model = boardModel(board) ?? 'unknown model';
    const firmware = board.identity?.firmware ?? 'firmware not read';
    const quecpython = board.identity?.quecpython ?? '';
    const key = `${model}\u0000${firmware}\u0000${quecpython}`;
    const group = groups.get(key) ?? { model, firmware, quecpython, boards: [] };
    group.boards.push(board.id);
    groups.set(key, group);
  }
  return [...groups.values()];
}

function renderHeader(result: RunResult): string {
  const counts = countOutcomes(allScenarios(result));
  const verdict = verdictOf(result);
  const reference = result.references[0];
  return (
    `<header><h1>qhil run ${esc(result.runId, 200)}</h1>` +
    `<p><span class="badge verdict o-${esc(verdict)}" id="verdict">${esc(verdict)}</span> ` +
    `<span class="totals" id="totals">${esc(describeCounts(counts, countNotRun(result)))}</span></p>` +
    `<p class="muted">started ${esc(result.startedAt)}${result.finishedAt ? `, finished ${esc(result.finishedAt)}` : ''}` +
    `${result.durationMs !== undefined ? ` (${esc(formatDurationMs(result.durationMs))})` : ''} on ${esc(result.host.hostname)} ` +
    `· qhil ${esc(result.tool.version)} · exit code ${esc(result.exitCode)}${result.tags.length ? ` · tags ${esc(result.tags.join(', '))}` : ''}` +
    `${result.aborted ? ' · <strong>stopped before it finished</strong>' : ''}` +
    `${reference ? ` · reference ${esc(reference.servers.join(' '))} (host offset ${esc(reference.offsetMs.toFixed(3))} ms ±${esc(reference.uncertaintyMs.toFixed(3))} ms)` : ''}</p>` +
    (result.problems?.length ? `<pre>${esc(result.problems.join('\n'), 5000)}</pre>` : '') +
    '</header>'
  );
}

function renderSignOff(result: RunResult, attachments: ReportAttachments): string {
  const firmware = firmwareGroups(result)
    .map(
      (g) =>
        `<tr><td>${esc(g.model, 80)}</td><td class="mono">${esc(g.firmware, 120)}</td><td>${esc(g.quecpython, 40)}</td>` +
        `<td>${g.boards.length}: ${esc(g.boards.slice(0, 12).join(', '), 400)}${g.boards.length > 12 ? ` and ${g.boards.length - 12} more` : ''}</td></tr>`,
    )
    .join('');
  const files = attachments.scenarioFiles
    .map((f) => `<tr><td class="mono">${esc(f.file, 300)}</td><td class="mono">${f.sha256 ? esc(f.sha256) : `<span class="muted">${esc(f.problem)}</span>`}</td></tr>`)
    .join('');
  return (
    '<section id="signoff" class="signoff"><h2>Sign-off</h2>' +
    '<table><tbody>' +
    `<tr><td>Verdict</td><td>${badge(verdictOf(result))} ${esc(describeCounts(countOutcomes(allScenarios(result)), countNotRun(result)))}</td></tr>` +
    `<tr><td>Run</td><td class="mono">${esc(result.runId, 300)}</td></tr>` +
    `<tr><td>When</td><td>${esc(result.startedAt)} to ${esc(result.finishedAt ?? '(not finished)')}</td></tr>` +
    `<tr><td>Where</td><td>${esc(result.host.hostname)} (${esc(result.host.platform)}, Node ${esc(result.host.node)})</td></tr>` +
    `<tr><td>Report by</td><td>${esc(attachments.renderedBy, 100)} at ${esc(attachments.renderedAt)}</td></tr>` +
    `<tr><td>qhil version</td><td>${esc(result.tool.version)}</td></tr>` +
    '</tbody></table>' +
    '<h3>Firmware under test</h3><table id="firmware"><thead><tr><th>model</th><th>firmware</th><th>QuecPython</th><th>boards</th></tr></thead>' +
    `<tbody>${firmware}</tbody></table>` +
    `<h3>Scenario files</h3><table><thead><tr><th>file</th><th>sha256</th></tr></thead><tbody>${files}</tbody></table>` +
    '<p>Signed: ______________________________ &nbsp; Date: ______________</p></section>'
  );
}

function renderCard(board: BoardResult): string {
  const counts = countOutcomes(board.scenarios);
  const outcome = board.scenarios.length ? verdictOfScenarios(board.scenarios) : 'SKIP';
  const id = board.identity;
  const rows: [string, string | undefined][] = [
    ['model', boardModel(board)],
    ['firmware', id?.firmware],
    ['QuecPython', id?.quecpython],
    ['IMEI', id?.imei],
    ['AT port', board.ports.at],
    ['REPL port', board.ports.repl],
  ];
  return (
    `<article class="card o-${esc(outcome)}" data-filterable data-board="${esc(board.id)}" data-card="${esc(board.id)}">` +
    `<h3>${esc(board.id, 120)} ${badge(outcome)}</h3><dl>` +
    rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd data-field="${esc(k)}">${v === undefined ? '<span class="muted">not known</span>' : esc(v, 200)}</dd>`).join('') +
    `</dl><div class="muted">${esc(describeCounts(counts))}</div></article>`
  );
}

function verdictOfScenarios(scenarios: ScenarioResult[]): RecordOutcome {
  const outcomes = scenarios.map((s) => s.outcome);
  for (const o of ['RUNNING', 'FAIL', 'ERROR', 'PASS'] as const) if (outcomes.includes(o)) return o;
  return 'SKIP';
}

function renderMeasurements(step: StepResult): string {
  if (step.measurements.length === 0) return '';
  const rows = step.measurements
    .map((m) => {
      const parts = m.uncertaintyParts
        ? Object.entries(m.uncertaintyParts)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
        : '';
      return (
        `<tr><td>${esc(m.name)}</td><td class="mono">${esc(formatMeasurementValue(m))}</td><td class="mono">${esc(formatMeasurementLimit(m))}</td>` +
        `<td>${badge(m.outcome)}</td><td class="muted">${esc(parts)}${m.explanation ? `${parts ? '; ' : ''}${esc(m.explanation, 500)}` : ''}</td></tr>`
      );
    })
    .join('');
  return `<table><thead><tr><th>measurement</th><th>value</th><th>limit</th><th>outcome</th><th>uncertainty from</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderTranscriptLines(lines: TranscriptLine[]): string {
  return lines
    .map((line) => {
      const time = line.hostWallTime.slice(11, 23);
      if (line.direction === 'mark') return `<div class="mk"><span class="t">${esc(time)}</span>-- ${esc(line.text, 2000)}</div>`;
      const arrow = line.direction === 'tx' ? '→ tx' : '← rx';
      return `<div class="${line.direction}"><span class="t">${esc(time)}</span><span class="d">${arrow}</span>${esc(line.text, 4000)}</div>`;
    })
    .join('');
}

function transcriptLink(path: string, text: string): string {
  const href = safeHref(path);
  return href ? `<a href="${esc(href)}">${esc(text, 300)}</a>` : `<span class="mono">${esc(text, 300)}</span>`;
}

/** The transcript lines recorded while `step` ran, from every transcript of the board: where it happened. */
function stepTail(step: StepResult, board: BoardResult, attachments: ReportAttachments): string {
  const startMs = Date.parse(step.startedAt);
  if (!Number.isFinite(startMs)) return '';
  const from = new Date(startMs).toISOString();
  const to = new Date(startMs + step.durationMs + 50).toISOString();
  const parts: string[] = [];
  for (const path of board.transcripts) {
    const view = attachments.transcripts[path];
    if (!view) continue;
    const during = view.lines.filter((l) => l.hostWallTime >= from && l.hostWallTime <= to);
    const lines = (during.length > 0 ? during : view.lines.filter((l) => l.hostWallTime <= to)).slice(-TAIL_LINES);
    if (lines.length === 0) continue;
    parts.push(`<p class="muted">${transcriptLink(path, path)}, the last ${lines.length} lines up to the step's end:</p><div class="transcript">${renderTranscriptLines(lines)}</div>`);
  }
  return parts.join('');
}

function renderStepTimeline(scenario: ScenarioResult): string {
  const startMs = Date.parse(scenario.startedAt);
  const totalMs = Math.max(1, scenario.durationMs, ...scenario.steps.map((s) => Date.parse(s.startedAt) - startMs + s.durationMs));
  const rows = scenario.steps
    .map((step) => {
      const offset = Math.max(0, Date.parse(step.startedAt) - startMs);
      const left = Number.isFinite(offset) ? (offset / totalMs) * 100 : 0;
      const width = Math.max(0.5, (step.durationMs / totalMs) * 100);
      return (
        `<tr class="o-${esc(step.outcome)}" data-step="${step.index}"><td>${step.index + 1}</td><td>${esc(step.title, 300)} <span class="muted">${esc(stepWhere(step))}</span></td>` +
        `<td>${badge(step.outcome)}</td><td class="mono">${esc(formatDurationMs(step.durationMs))}</td><td>${step.attempts}${step.attempts > 1 ? ' (retried)' : ''}</td>` +
        `<td class="bar"><span class="span" style="margin-left:${left.toFixed(1)}%;width:${Math.min(width, 100 - left).toFixed(1)}%"></span></td></tr>`
      );
    })
    .join('');
  return `<table class="timeline"><thead><tr><th>#</th><th>step</th><th>outcome</th><th>duration</th><th>attempts</th><th>timeline</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderScenario(board: BoardResult, scenario: ScenarioResult, attachments: ReportAttachments): string {
  const outcome = scenario.outcome === 'RUNNING' ? 'RUNNING' : scenario.outcome;
  const reasons = scenarioReasons(scenario);
  const problem = outcome !== 'PASS' && outcome !== 'SKIP';
  const deciding = decidingStep(scenario);
  const fault = scenarioFault(scenario);
  const detail: string[] = [];
  if (reasons.length > 0) detail.push(`<pre class="reason">${esc(reasons.join('\n\n'), 20_000)}</pre>`);
  if (fault && problem) detail.push(`<p>whose fault: <strong>${esc(fault)}</strong>${fault === 'board' ? ' (the firmware)' : fault === 'rig' ? ' (the rig, not the firmware)' : ''}</p>`);
  detail.push(renderStepTimeline(scenario));
  for (const step of scenario.steps) {
    const isDeciding = step === deciding;
    if (step.measurements.length === 0 && !isDeciding) continue;
    detail.push(`<h4>${esc(stepLabel(step), 300)} ${badge(step.outcome)}</h4>`);
    if (isDeciding && step.message && !reasons.includes(step.message)) detail.push(`<pre>${esc(step.message, 20_000)}</pre>`);
    detail.push(renderMeasurements(step));
    if (isDeciding) {
      const data = Object.entries(step.data);
      if (data.length > 0) {
        detail.push(`<pre>${esc(data.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n'), 20_000)}</pre>`);
      }
      detail.push(stepTail(step, board, attachments));
    }
  }
  const summaryReason = problem && reasons[0] ? ` <span class="muted">${esc(reasons[0].split('\n')[0], 200)}</span>` : '';
  return (
    `<details class="scenario o-${esc(outcome)}" data-filterable data-outcome="${esc(outcome)}" data-board="${esc(board.id)}" data-scenario="${esc(scenario.scenario)}"${problem ? ' open' : ''}>` +
    `<summary>${badge(outcome)} <strong>${esc(scenario.scenario, 200)}</strong> on ${esc(board.id, 120)} · ${esc(formatDurationMs(scenario.durationMs))}${summaryReason}</summary>` +
    `${detail.join('')}</details>`
  );
}

function renderCharts(board: BoardResult): string {
  const points = boardPoints(board);
  if (points.length === 0) return '';
  const byMeasure = new Map<string, BoardPoint[]>();
  for (const point of points) {
    const key = `${point.measurement.name} (${point.measurement.unit})`;
    byMeasure.set(key, [...(byMeasure.get(key) ?? []), point]);
  }
  const charts: string[] = [];
  for (const [key, list] of byMeasure) {
    const unit = list[0]?.measurement.unit ?? '';
    const chartPoints: ChartPoint[] = list.map((p, i) => ({
      x: i + 1,
      value: p.measurement.value,
      low: p.measurement.low,
      high: p.measurement.high,
      limitLow: p.measurement.limitLow,
      limitHigh: p.measurement.limitHigh,
      outcome: p.measurement.outcome,
      label: `${i + 1}: ${p.scenario} ${p.step}: ${formatMeasurementValue(p.measurement)} (limit ${formatMeasurementLimit(p.measurement)}) ${p.measurement.outcome}`,
    }));
    const rows = list
      .map(
        (p, i) =>
          `<tr><td>${i + 1}</td><td>${esc(p.scenario, 200)}</td><td>${esc(p.step, 200)}</td><td class="mono">${esc(formatMeasurementValue(p.measurement))}</td>` +
          `<td class="mono">${esc(formatMeasurementLimit(p.measurement))}</td><td>${badge(p.measurement.outcome)}</td></tr>`,
      )
      .join('');
    charts.push(
      `<figure class="offsets" data-measure="${esc(key)}"><figcaption>${esc(key)} of ${esc(board.id, 120)}: each point with its uncertainty bar, the tolerance band shaded</figcaption>` +
        renderIntervalChart({ title: `${key} of ${board.id}`, unit, points: chartPoints, xKind: 'index' }) +
        `<details><summary>the points as a table</summary><table><thead><tr><th>#</th><th>scenario</th><th>step</th><th>value</th><th>limit</th><th>outcome</th></tr></thead><tbody>${rows}</tbody></table></details></figure>`,
    );
  }
  return charts.join('');
}

function renderTranscripts(board: BoardResult, attachments: ReportAttachments): string {
  if (board.transcripts.length === 0) return '';
  const parts = board.transcripts.map((path) => {
    const view: TranscriptView | undefined = attachments.transcripts[path];
    const link = transcriptLink(path, path);
    if (!view) return `<p>${link}</p>`;
    if (view.problem) return `<p>${link} <span class="muted">(not read: ${esc(view.problem)})</span></p>`;
    const shown = view.lines.slice(view.lines.length - view.shownLines);
    const note = view.cut ? `<p class="muted">showing the last ${shown.length} lines of ${view.fileBytes} bytes; the whole transcript: ${link}</p>` : '';
    return (
      `<details class="transcript-file" data-transcript="${esc(path)}"><summary>transcript ${esc(path, 300)} <span class="muted">(${view.cut ? `last ${shown.length} lines` : `${shown.length} lines`}, ${view.fileBytes} bytes; → tx host to board, ← rx board to host, host wall-clock UTC)</span></summary>` +
      `${note}<div class="transcript">${renderTranscriptLines(shown)}</div><p class="muted">file: ${link}</p></details>`
    );
  });
  return `<h3>Transcripts</h3>${parts.join('')}`;
}

function renderBoard(board: BoardResult, attachments: ReportAttachments): string {
  const scenarios = [...board.scenarios].sort((a, b) => ATTENTION[a.outcome] - ATTENTION[b.outcome]);
  return (
    `<section class="board" data-filterable data-board="${esc(board.id)}"><h2>${esc(board.id, 120)}</h2>` +
    renderCharts(board) +
    scenarios.map((s) => renderScenario(board, s, attachments)).join('') +
    renderTranscripts(board, attachments) +
    '</section>'
  );
}

/** What a script or a test reads back from the page: the figures shown, as numbers. */
function pageData(result: RunResult): unknown {
  return {
    runId: result.runId,
    verdict: verdictOf(result),
    totals: countOutcomes(allScenarios(result)),
    boards: result.boards.map((b) => ({ id: b.id, model: boardModel(b), firmware: b.identity?.firmware })),
    points: result.boards.flatMap((b) =>
      boardPoints(b).map((p) => ({ board: p.board, scenario: p.scenario, value: p.measurement.value, low: p.measurement.low, high: p.measurement.high })),
    ),
  };
}

/** Renders report.html (pure). */
export function renderReportHtml(result: RunResult, attachments: ReportAttachments): string {
  const outcomes = [...new Set(allScenarios(result).map((s) => s.outcome))].sort((a, b) => ATTENTION[a] - ATTENTION[b]);
  const problems = result.boards.flatMap((board) =>
    board.scenarios.filter((s) => s.outcome === 'FAIL' || s.outcome === 'ERROR' || s.outcome === 'RUNNING').map((s) => ({ board, s })),
  );
  const problemList = problems.length
    ? `<section id="problems"><h2>Failures and errors first</h2><ul>${problems
        .sort((a, b) => ATTENTION[a.s.outcome] - ATTENTION[b.s.outcome])
        .slice(0, 200)
        .map(
          ({ board, s }) =>
            `<li data-filterable data-outcome="${esc(s.outcome)}" data-board="${esc(board.id)}">${badge(s.outcome)} ${esc(board.id, 120)} / ${esc(s.scenario, 200)}: ${esc((scenarioReasons(s)[0] ?? '').split('\n')[0], 300)}</li>`,
        )
        .join('')}${problems.length > 200 ? `<li>and ${problems.length - 200} more</li>` : ''}</ul></section>`
    : '';
  const body =
    renderHeader(result) +
    renderSignOff(result, attachments) +
    renderToolbar({ outcomes, boards: result.boards.map((b) => b.id) }) +
    `<section id="boards" class="pagebreak"><h2>Boards</h2><div class="cards">${result.boards.map(renderCard).join('')}</div></section>` +
    problemList +
    result.boards.map((board) => renderBoard(board, attachments)).join('');
  return renderPage({ title: `qhil ${result.runId}: ${verdictOf(result)}`, body, data: pageData(result) });
}
