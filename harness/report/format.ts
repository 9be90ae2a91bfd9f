/**
 * Small pure helpers shared by the report renderers (JUnit, Markdown, terminal, and later HTML):
 * how a measurement, an outcome count or a board's firmware reads for people.
 */
import { formatLocation, type Fault } from '../core/errors.js';
import type { BoardResult, Measurement, RunResult, ScenarioResult, StepResult } from '../core/model.js';
import { safeText, visibleEscape } from '../core/text.js';

export { visibleEscape };

export interface OutcomeCounts {
  total: number;
  PASS: number;
  FAIL: number;
  ERROR: number;
  SKIP: number;
  /** Scenarios whose record was left RUNNING: the run stopped (killed, disk full) before they finished. */
  RUNNING: number;
}

export function countOutcomes(scenarios: ScenarioResult[]): OutcomeCounts {
  const counts: OutcomeCounts = { total: 0, PASS: 0, FAIL: 0, ERROR: 0, SKIP: 0, RUNNING: 0 };
  for (const scenario of scenarios) {
    counts.total += 1;
    counts[scenario.outcome] += 1;
  }
  return counts;
}

export function allScenarios(result: RunResult): ScenarioResult[] {
  return result.boards.flatMap((board) => board.scenarios);
}

/**
 * `3 passed, 1 failed, 1 error, 0 skipped`, plus `, 1 unfinished` for scenarios left RUNNING and
 * `, 2 not run` when an aborted or unfinished run left scenarios out.
 */
export function describeCounts(counts: OutcomeCounts, notRun = 0): string {
  return (
    `${counts.PASS} passed, ${counts.FAIL} failed, ${counts.ERROR} ${counts.ERROR === 1 ? 'error' : 'errors'}, ` +
    `${counts.SKIP} skipped${counts.RUNNING > 0 ? `, ${counts.RUNNING} unfinished` : ''}${notRun > 0 ? `, ${notRun} not run` : ''}`
  );
}

/** Why an unfinished record is not a verdict, for every report that shows one. */
export const UNFINISHED_REASON = 'the run did not finish: the record was left RUNNING (process killed, disk full, or stopped twice)';

/**
 * A record the runner never finished: the run or one of its scenarios still says RUNNING. Such a
 * record is never a pass, whatever its finished scenarios say.
 */
export function isUnfinished(result: RunResult): boolean {
  return result.outcome === 'RUNNING' || allScenarios(result).some((scenario) => scenario.outcome === 'RUNNING');
}

/** How many board × scenario pairs an aborted or unfinished run never started. */
export function countNotRun(result: RunResult): number {
  return result.boards.reduce((n, board) => n + notRunScenarios(result, board).length, 0);
}

/**
 * The scenarios a run meant to run on a board but has no result for: only an aborted run leaves
 * such holes, and a report must show them rather than let them vanish.
 */
export function notRunScenarios(result: RunResult, board: BoardResult): { name: string; file: string }[] {
  if (!result.aborted && !isUnfinished(result)) return [];
  const ran = new Set(board.scenarios.map((scenario) => scenario.scenario));
  // A shard meant to run only its share of the board's scenarios: the others are another shard's.
  const shard = result.shard;
  const meant = shard ? (name: string) => shard.plan.some((w) => w.board === board.id && w.scenario === name && w.shard === shard.index) : () => true;
  return result.scenarios.filter((scenario) => !ran.has(scenario.name) && meant(scenario.name));
}

/**
 * The step that decided a non-passing scenario's outcome, if a step did (a scenario can also fail
 * before its first step, or err after its last one: a board that could not be closed).
 */
export function decidingStep(scenario: ScenarioResult): StepResult | undefined {
  if (scenario.outcome === 'PASS' || scenario.outcome === 'SKIP' || scenario.outcome === 'RUNNING') return undefined;
  return (
    scenario.steps.find((step) => step.outcome === scenario.outcome) ??
    scenario.steps.find((step) => step.outcome === 'FAIL' || step.outcome === 'ERROR')
  );
}

/** What an unfinished scenario was doing when its record stopped: `#3 sync via repl (started ...)`. */
export function describeCurrentStep(scenario: ScenarioResult): string | undefined {
  const current = scenario.current;
  return current ? `#${current.index + 1} ${current.title} (started ${current.startedAt})` : undefined;
}

/**
 * Why a scenario did not pass, one paragraph per reason: the deciding step's message, and the
 * scenario's own when it says something else (an ERROR that replaced the outcome after the steps:
 * a board that could not be closed, a harness bug). An unfinished scenario says it did not finish.
 */
export function scenarioReasons(scenario: ScenarioResult): string[] {
  if (scenario.outcome === 'RUNNING') {
    const current = describeCurrentStep(scenario);
    return [`${UNFINISHED_REASON}${current ? `; it was at step ${current}` : ''}`];
  }
  const reasons = [decidingStep(scenario)?.message, scenario.message].filter((m): m is string => m !== undefined && m !== '');
  return [...new Set(reasons)];
}

/** Why a scenario did not pass, in one paragraph (see scenarioReasons). */
export function scenarioMessage(scenario: ScenarioResult): string | undefined {
  const reasons = scenarioReasons(scenario);
  return reasons.length > 0 ? reasons.join('\n\n') : undefined;
}

/**
 * Whose fault a non-passing scenario is, as recorded; a record written before faults were recorded
 * says nothing, and its FAIL is the board's, its ERROR the rig's (then the only kind of ERROR).
 */
export function scenarioFault(scenario: ScenarioResult): Fault | undefined {
  if (scenario.outcome === 'PASS' || scenario.outcome === 'SKIP' || scenario.outcome === 'RUNNING') return undefined;
  return scenario.fault ?? decidingStep(scenario)?.fault ?? (scenario.outcome === 'FAIL' ? 'board' : 'rig');
}

/** Bugs in qhil itself (fault `harness`), reported apart from the verdicts: where, and what was said. */
export interface HarnessBug {
  board: string;
  scenario: string;
  step?: StepResult;
  message: string;
}

export function harnessBugs(result: RunResult): HarnessBug[] {
  const bugs: HarnessBug[] = [];
  for (const scenario of allScenarios(result)) {
    const steps = scenario.steps.filter((step) => step.fault === 'harness');
    for (const step of steps) {
      bugs.push({ board: scenario.board, scenario: scenario.scenario, step, message: step.message ?? 'no message recorded' });
    }
    if (scenario.fault === 'harness' && (scenario.message === undefined || steps.every((step) => step.message !== scenario.message))) {
      bugs.push({ board: scenario.board, scenario: scenario.scenario, message: scenario.message ?? 'no message recorded' });
    }
  }
  return bugs;
}

/**
 * The measurement a person wants to see in a one-line summary: the first one that did not pass,
 * else the last one taken (for the clock scenarios, the final offset).
 */
export function keyMeasurement(scenario: ScenarioResult): Measurement | undefined {
  const measurements = scenario.steps.flatMap((step) => step.measurements);
  return measurements.find((m) => m.outcome === 'FAIL' || m.outcome === 'MARGINAL') ?? measurements.at(-1);
}

export function stepLabel(step: StepResult): string {
  return `#${step.index + 1} ${step.title}`;
}

export function stepWhere(step: StepResult): string {
  return formatLocation(step.location);
}

/** JUnit wants seconds as a plain decimal. */
export function junitSeconds(ms: number | undefined): string {
  return ((ms ?? 0) / 1000).toFixed(3);
}

// ---------------------------------------------------------------------------------------------
// Measurements: `offset +0.41s ±0.52s (reading 0.50, round trip 0.02; limit ±2s)` for a one-second
// reading, `offset -412.0ms ±3.0ms (reading 1.0, round trip 1.5, reference 0.5; limit ±100ms)` for an
// edge-timed one, `board clock drift +41.2ppm ±6.3ppm (...; limit ±20ppm)`.

interface Scale {
  unit: string;
  factor: number;
  decimals: number;
  /** Drop trailing zeros from values too: units we know nothing about get no invented precision. */
  trim?: boolean;
}

/**
 * Time offsets are recorded in ms. A measurement known to better than 100 ms (an edge-timed reading)
 * is shown in ms, whatever its size: `-3412.0ms ±5.0ms`, since seconds would round its precision
 * away. A coarser one (a one-second reading) reads in seconds when the quantities are a second or
 * more, so `+410ms ±520ms (limit ±2000ms)` reads `+0.41s ±0.52s (limit ±2s)`.
 */
function scaleFor(measurement: Measurement): Scale {
  const largest = largestMagnitude([measurement.value, measurement.uncertainty, measurement.limitLow, measurement.limitHigh]);
  const uncertainty = Math.abs(measurement.uncertainty);
  if (measurement.unit === 'ms' && uncertainty < 100) return { unit: 'ms', factor: 1, decimals: uncertainty < 10 ? 1 : 0 };
  if (measurement.unit === 'ms' && largest >= 1000) return { unit: 's', factor: 1 / 1000, decimals: 2 };
  if (measurement.unit === 'ms') return { unit: 'ms', factor: 1, decimals: largest >= 10 ? 0 : 1 };
  if (measurement.unit === 's') return { unit: 's', factor: 1, decimals: 2 };
  if (measurement.unit === 'ppm') return { unit: 'ppm', factor: 1, decimals: uncertainty < 1 ? 2 : 1 };
  return { unit: measurement.unit, factor: 1, decimals: 3, trim: true };
}

/** Limits are written by people (`100ms`, `2s`): shown in the unit they were most likely written in. */
function limitScaleFor(measurement: Measurement): Scale {
  if (measurement.unit !== 'ms') return scaleFor(measurement);
  const largest = largestMagnitude([measurement.limitLow, measurement.limitHigh]);
  return largest >= 1000 ? { unit: 's', factor: 1 / 1000, decimals: 3 } : { unit: 'ms', factor: 1, decimals: 1 };
}

function largestMagnitude(values: number[]): number {
  return Math.max(0, ...values.filter((v) => Number.isFinite(v)).map(Math.abs));
}

function number(value: number, scale: Scale, options: { sign?: boolean; trim?: boolean } = {}): string {
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  let text = (value * scale.factor).toFixed(scale.decimals);
  // Limits are written by people (`2s`), so `2.00s` would look like a measured value.
  if ((options.trim || scale.trim) && text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
  if (/^-0(\.0*)?$/.test(text)) text = text.slice(1);
  if (options.sign && !text.startsWith('-')) text = `+${text}`;
  return text;
}

function withUnit(text: string, unit: string): string {
  return unit === '' ? text : `${text}${unit}`;
}

export function formatMeasurementValue(measurement: Measurement): string {
  const scale = scaleFor(measurement);
  return (
    `${withUnit(number(measurement.value, scale, { sign: true }), scale.unit)} ` +
    `±${withUnit(number(measurement.uncertainty, scale), scale.unit)}`
  );
}

/** `[-415.1ms, -408.9ms]`: the interval the true value lies in, at the value's precision. */
export function formatMeasurementInterval(measurement: Measurement): string {
  const scale = scaleFor(measurement);
  return `[${withUnit(number(measurement.low, scale, { sign: true }), scale.unit)}, ${withUnit(number(measurement.high, scale, { sign: true }), scale.unit)}]`;
}

/** `roundTrip` -> `round trip`: the parts' names as recorded in result.json, for people. */
function partLabel(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/**
 * What the uncertainty is made of, in the value's unit and precision: `reading 1.0, round trip 1.5,
 * reference 0.5`. Parts too small to show at that precision are left out; '' when there are none.
 */
export function formatUncertaintyParts(measurement: Measurement): string {
  const parts = measurement.uncertaintyParts;
  if (!parts) return '';
  const scale = scaleFor(measurement);
  return Object.entries(parts)
    .map(([name, value]) => ({ name, text: number(value, scale) }))
    .filter((part) => /[1-9]/.test(part.text))
    .map((part) => `${partLabel(part.name)} ${part.text}`)
    .join(', ');
}

/** `±2s` for a symmetric limit, `[-1s, 3s]` otherwise, `≤ 2s` when only one side is bounded. */
export function formatMeasurementLimit(measurement: Measurement): string {
  const scale = limitScaleFor(measurement);
  const low = measurement.limitLow;
  const high = measurement.limitHigh;
  const show = (v: number): string => withUnit(number(v, scale, { trim: true }), scale.unit);
  if (Number.isFinite(low) && Number.isFinite(high) && low === -high && high >= 0) return `±${show(high)}`;
  if (!Number.isFinite(low) && Number.isFinite(high)) return `≤ ${show(high)}`;
  if (Number.isFinite(low) && !Number.isFinite(high)) return `≥ ${show(low)}`;
  return `[${show(low)}, ${show(high)}]`;
}

/**
 * `offset -412.0ms ±3.0ms (reading 1.0, round trip 1.5, reference 0.5; limit ±100ms)`; with
 * `parts: false` (a one-line summary table) the parts are left out.
 */
export function formatMeasurement(measurement: Measurement, options: { parts?: boolean } = {}): string {
  const parts = options.parts === false ? '' : formatUncertaintyParts(measurement);
  const limit =
    !Number.isFinite(measurement.limitLow) && !Number.isFinite(measurement.limitHigh)
      ? 'no limit: recorded only'
      : `limit ${formatMeasurementLimit(measurement)}`;
  return `${measurement.name} ${formatMeasurementValue(measurement)} (${parts === '' ? '' : `${parts}; `}${limit})`;
}

// ---------------------------------------------------------------------------------------------
// Text from boards: tracebacks and transcripts carry control bytes (\x04 from raw REPL, ESC from
// terminal colours, hostile OSC sequences) that neither a terminal, XML 1.0 nor a Markdown table may
// carry; core/text.ts shows them as escapes.

/** Longest paragraph a report shows of one message: a flood of board output must not become a 700 MB report. */
export const MAX_MESSAGE_CHARS = 20_000;

/** A paragraph made safe to show: lines and tabs kept, every control character a visible escape, length capped. */
export function makeVisible(text: string, maxChars = MAX_MESSAGE_CHARS): string {
  return safeText(text, { multiline: true, maxChars });
}

/** One line, for places that cannot hold a paragraph (an XML attribute, a table cell, a terminal column). */
export function oneLine(text: string, maxChars = 300): string {
  // Escaping at most grows text sixfold; cutting the input first keeps a flood cheap to show.
  const line = safeText(text.length > maxChars * 2 ? text.slice(0, maxChars * 2) : text, { multiline: true })
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim();
  if (line.length <= maxChars && text.length <= maxChars * 2) return line;
  let end = Math.min(line.length, maxChars - 1);
  const last = line.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${line.slice(0, end)}…`;
}

/** Model and firmware from the board's own identity, falling back to what the rig file said. */
export function boardModel(board: BoardResult): string | undefined {
  return board.identity?.model ?? board.model;
}
