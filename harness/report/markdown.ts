/**
 * summary.md: the run for people. A verdict first, a table of results, then what went wrong with the
 * numbers that prove it, and the firmware each board ran (a release sign-off names firmware).
 */
import { formatDurationMs } from '../core/duration.js';
import { formatLocation } from '../core/errors.js';
import type { Fault } from '../core/errors.js';
import type { BoardResult, RunResult, ScenarioResult } from '../core/model.js';
import {
  allScenarios,
  boardModel,
  countNotRun,
  countOutcomes,
  decidingStep,
  describeCounts,
  describeCurrentStep,
  harnessBugs,
  isUnfinished,
  scenarioFault,
  scenarioReasons,
  UNFINISHED_REASON,
  formatMeasurement,
  formatMeasurementLimit,
  formatMeasurementValue,
  formatUncertaintyParts,
  keyMeasurement,
  makeVisible,
  notRunScenarios,
  oneLine,
  stepLabel,
} from './format.js';

export const SUMMARY_MD = 'summary.md';

export interface SummaryOptions {
  /**
   * The runs a merged result was built from: the summary then shows one results table per run,
   * since a merged RunResult no longer says which run each board came from.
   */
  parts?: RunResult[];
}

/** Renders a run as Markdown (pure: RunResult in, document text out). */
export function renderSummaryMarkdown(result: RunResult, options: SummaryOptions = {}): string {
  const out: string[] = [];
  const counts = countOutcomes(allScenarios(result));
  out.push(`# qhil ${text(result.runId)}: ${verdictLabel(result)}`, '');
  const duration = result.durationMs !== undefined ? ` in ${formatDurationMs(result.durationMs)}` : '';
  out.push(
    `**${verdictSentence(result)}** ${describeCounts(counts, countNotRun(result))} across ${plural(result.boards.length, 'board')}${duration}.`,
    '',
  );
  if (isUnfinished(result)) out.push(...unfinishedNotice(result), '');
  if (result.aborted) {
    out.push('> **The run was aborted** before it finished: results below are incomplete.', '');
  }
  const bugs = harnessBugs(result);
  if (bugs.length > 0) {
    out.push('## qhil itself failed: please report', '');
    out.push(
      'These errors are bugs in qhil, not in the board or the rig: please report them with this summary ' +
        'and events.jsonl (it holds the stack).',
      '',
    );
    for (const bug of bugs) {
      const where = bug.step ? ` step ${text(stepLabel(bug.step))} (${text(formatLocation(bug.step.location))})` : '';
      out.push(`- ${text(bug.board)} / ${text(bug.scenario)}${where}:`, '', ...codeBlock(bug.message).map((line) => `  ${line}`), '');
    }
  }
  out.push(
    `Started ${result.startedAt}${result.finishedAt ? `, finished ${result.finishedAt}` : ''} on ` +
      `${text(result.host.hostname)} (${text(result.host.platform)}, Node ${text(result.host.node)}), ` +
      `qhil ${text(result.tool.version)}, exit code ${result.exitCode}.` +
      (result.tags.length > 0 ? ` Tags: ${result.tags.map(text).join(', ')}.` : ''),
    '',
  );

  out.push('## Results', '');
  const parts = options.parts && options.parts.length > 1 ? options.parts : [result];
  for (const part of parts) {
    if (parts.length > 1) out.push(`### Run ${text(part.runId)}: ${verdictLabel(part)}`, '');
    out.push(...resultsTable(part), '');
  }

  const problems = allScenarios(result).filter((s) => s.outcome === 'FAIL' || s.outcome === 'ERROR');
  if (problems.length > 0) {
    out.push('## Failures and errors', '');
    for (const scenario of problems) {
      const board = result.boards.find((b) => b.id === scenario.board && b.scenarios.includes(scenario));
      out.push(...problemSection(scenario, board), '');
    }
  }

  out.push('## Boards', '');
  out.push(...boardsTable(result.boards), '');

  out.push('## Reference servers', '');
  if (result.references.length === 0) {
    out.push('No reference time was measured in this run.', '');
  } else {
    out.push('| Servers | Host clock offset | Uncertainty | Measured at |', '|---|---:|---:|---|');
    for (const ref of result.references) {
      out.push(
        `| ${text(ref.servers.join(', '))} | ${signedMs(ref.offsetMs)} | ±${ref.uncertaintyMs.toFixed(1)}ms | ${text(ref.measuredAt)} |`,
      );
    }
    out.push('');
  }

  const transcripts = result.boards.flatMap((board) => board.transcripts.map((path) => ({ board: board.id, path })));
  out.push('## Transcripts', '');
  if (transcripts.length === 0) out.push('No transcripts were recorded.');
  for (const { board, path } of transcripts) out.push(`- ${text(board)}: ${link(path)}`);
  out.push('');
  return out.join('\n');
}

/** `PASS`, `ERROR (aborted)`, `UNFINISHED`: a record left RUNNING says so before anything else. */
function verdictLabel(result: RunResult): string {
  const label = isUnfinished(result) ? 'UNFINISHED' : result.outcome;
  return result.aborted ? `${label} (aborted)` : label;
}

function verdictSentence(result: RunResult): string {
  if (isUnfinished(result)) return 'UNFINISHED: this is not a verdict, and not a pass.';
  switch (result.outcome) {
    case 'RUNNING':
      return 'UNFINISHED: this is not a verdict, and not a pass.';
    case 'PASS':
      return 'PASS:';
    case 'FAIL':
      return 'FAIL: a board misbehaved.';
    case 'ERROR':
      return 'ERROR: the rig or harness failed, so some verdicts are missing.';
    case 'SKIP':
      return 'SKIP: nothing was run.';
  }
}

/** The warning an unfinished record opens with, and what each unfinished scenario was doing. */
function unfinishedNotice(result: RunResult): string[] {
  const out = [`> **UNFINISHED:** ${text(UNFINISHED_REASON)}. Results below are incomplete; do not read them as a pass.`];
  for (const scenario of allScenarios(result).filter((s) => s.outcome === 'RUNNING')) {
    const current = describeCurrentStep(scenario);
    out.push('>', `> - ${text(scenario.board)} / ${text(scenario.scenario)}: ${current ? `was at step ${text(current)}` : 'had not started a step'}`);
  }
  return out;
}

function resultsTable(result: RunResult): string[] {
  const rows = ['| Board | Scenario | Outcome | Duration | Key measurement |', '|---|---|---|---:|---|'];
  for (const board of result.boards) {
    for (const scenario of board.scenarios) {
      const key = keyMeasurement(scenario);
      rows.push(
        `| ${text(board.id)} | ${text(scenario.scenario)} | ${outcomeCell(scenario.outcome)} | ` +
          `${formatDurationMs(scenario.durationMs)} | ${key ? text(`${formatMeasurement(key, { parts: false })} ${key.outcome}`) : ''} |`,
      );
    }
    for (const missing of notRunScenarios(result, board)) {
      rows.push(`| ${text(board.id)} | ${text(missing.name)} | ${isUnfinished(result) ? '**not run (unfinished)**' : 'not run (aborted)'} | | |`);
    }
  }
  if (rows.length === 2) return ['No scenario ran.'];
  return rows;
}

function problemSection(scenario: ScenarioResult, board: BoardResult | undefined): string[] {
  const out = [`### ${scenario.outcome}: ${text(scenario.board)} / ${text(scenario.scenario)}`, ''];
  const step = decidingStep(scenario);
  const fault = scenarioFault(scenario);
  if (fault) out.push(`Whose fault: ${FAULT_TEXT[fault]}.`, '');
  if (step) {
    out.push(
      `Step ${text(stepLabel(step))} (${codeSpan(step.kind)}, ${text(formatLocation(step.location))}) ` +
        `${step.outcome} after ${formatDurationMs(step.durationMs)}${step.attempts > 1 ? ` and ${step.attempts} attempts` : ''}.`,
      '',
    );
  } else {
    out.push(`The scenario ${scenario.outcome === 'ERROR' ? 'erred' : 'failed'} outside any step (${text(scenario.file)}).`, '');
  }
  const reasons = scenarioReasons(scenario);
  if (reasons.length === 0) out.push('No reason was recorded.', '');
  for (const reason of reasons) out.push(...codeBlock(reason), '');
  if (step && step.measurements.length > 0) {
    out.push('| Measurement | Value | Limit | Outcome |', '|---|---:|---:|---|');
    for (const m of step.measurements) {
      const parts = formatUncertaintyParts(m);
      const value = `${formatMeasurementValue(m)}${parts === '' ? '' : ` (${parts})`}`;
      out.push(`| ${text(m.name)} | ${text(value)} | ${text(formatMeasurementLimit(m))} | ${m.outcome} |`);
    }
    out.push('');
    for (const m of step.measurements) if (m.explanation) out.push(`- ${text(m.name)}: ${text(oneLine(m.explanation, 2000))}`);
    if (step.measurements.some((m) => m.explanation)) out.push('');
  }
  if (board && board.transcripts.length > 0) {
    out.push(`Transcripts: ${board.transcripts.map(link).join(', ')}`, '');
  }
  while (out.at(-1) === '') out.pop();
  return out;
}

function boardsTable(boards: BoardResult[]): string[] {
  if (boards.length === 0) return ['No board was used.'];
  const out = ['| Board | Model | Firmware | QuecPython | IMEI | Ports |', '|---|---|---|---|---|---|'];
  for (const board of boards) {
    const ports = Object.entries(board.ports)
      .map(([via, port]) => `${via} ${port}`)
      .join(', ');
    out.push(
      `| ${text(board.id)} | ${text(boardModel(board) ?? 'unknown')} | ${text(board.identity?.firmware ?? 'unknown')} | ` +
        `${text(board.identity?.quecpython ?? '')} | ${text(board.identity?.imei ?? '')} | ${text(ports)} |`,
    );
  }
  const details = boards.filter((b) => b.identity && Object.keys(b.identity.details).length > 0);
  if (details.length > 0) out.push('');
  for (const board of details) {
    const fields = Object.entries(board.identity?.details ?? {}).map(([k, v]) => `${text(k)}: ${text(v)}`);
    out.push(`- ${text(board.id)}: ${fields.join('; ')}`);
  }
  // What the rig did about a board beyond its steps: a lease taken over from a dead holder, waited for, or lost.
  const noted = boards.filter((b) => (b.notes ?? []).length > 0);
  if (noted.length > 0) out.push('');
  for (const board of noted) {
    for (const note of board.notes ?? []) out.push(`- ${text(board.id)}: ${text(note)}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Markdown escaping. Board output is untrusted text: it must not break a table or inject HTML.

/** Escapes Markdown and HTML syntax in running text. */
function text(value: string): string {
  return (
    oneLine(value, 2000)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/([\\`*|[\]~])/g, '\\$1')
      // An underscore inside a word is not emphasis; leaving it keeps firmware names greppable.
      .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\_')
  );
}

function outcomeCell(outcome: ScenarioResult['outcome']): string {
  if (outcome === 'RUNNING') return '**RUNNING (unfinished)**';
  return outcome === 'FAIL' || outcome === 'ERROR' ? `**${outcome}**` : outcome;
}

const FAULT_TEXT: Record<Fault, string> = {
  board: '**the board** (the firmware misbehaved)',
  rig: '**the rig** (a port, a cable, the network or the reference: no verdict on the board)',
  input: '**the input** (the scenario, the rig file or the flags)',
  harness: '**qhil itself** (a bug: please report it)',
};

/** Inline code that its own backticks cannot close: the delimiter is longer than any run inside. */
function codeSpan(value: string): string {
  const visible = oneLine(value, 200);
  const longestRun = Math.max(0, ...(visible.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = visible.startsWith('`') || visible.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${visible}${pad}${fence}`;
}

/** A fenced block longer than any backtick run inside, so a traceback cannot close it early. */
function codeBlock(body: string): string[] {
  const visible = makeVisible(body).replace(/\r\n?/g, '\n');
  const longestRun = Math.max(0, ...(visible.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return [fence, ...visible.split('\n'), fence];
}

/** A relative link to a file in the report folder; angle brackets allow spaces in the path. */
function link(path: string): string {
  const target = path.replace(/[<>\n\r]/g, encodeURIComponent);
  return `[${text(path)}](<${target}>)`;
}

function signedMs(ms: number): string {
  return `${ms >= 0 ? '+' : ''}${ms.toFixed(1)}ms`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
