/**
 * Small pure helpers shared by the report renderers (JUnit, Markdown, terminal, and later HTML):
 * how a measurement, an outcome count or a board's firmware reads for people.
 */
import { formatLocation } from '../core/errors.js';
import type { BoardResult, Measurement, RunResult, ScenarioResult, StepResult } from '../core/model.js';

export interface OutcomeCounts {
  total: number;
  PASS: number;
  FAIL: number;
  ERROR: number;
  SKIP: number;
}

export function countOutcomes(scenarios: ScenarioResult[]): OutcomeCounts {
  const counts: OutcomeCounts = { total: 0, PASS: 0, FAIL: 0, ERROR: 0, SKIP: 0 };
  for (const scenario of scenarios) {
    counts.total += 1;
    counts[scenario.outcome] += 1;
  }
  return counts;
}

export function allScenarios(result: RunResult): ScenarioResult[] {
  return result.boards.flatMap((board) => board.scenarios);
}

/** `3 passed, 1 failed, 1 error, 0 skipped`, plus `, 2 not run` when an aborted run left scenarios out. */
export function describeCounts(counts: OutcomeCounts, notRun = 0): string {
  return (
    `${counts.PASS} passed, ${counts.FAIL} failed, ${counts.ERROR} ${counts.ERROR === 1 ? 'error' : 'errors'}, ` +
    `${counts.SKIP} skipped${notRun > 0 ? `, ${notRun} not run` : ''}`
  );
}

/** How many board × scenario pairs an aborted run never started. */
export function countNotRun(result: RunResult): number {
  return result.boards.reduce((n, board) => n + notRunScenarios(result, board).length, 0);
}

/**
 * The scenarios a run meant to run on a board but has no result for: only an aborted run leaves
 * such holes, and a report must show them rather than let them vanish.
 */
export function notRunScenarios(result: RunResult, board: BoardResult): { name: string; file: string }[] {
  if (!result.aborted) return [];
  const ran = new Set(board.scenarios.map((scenario) => scenario.scenario));
  return result.scenarios.filter((scenario) => !ran.has(scenario.name));
}

/** The step that decided a non-passing scenario's outcome, if a step did (a scenario can also fail before its first step). */
export function decidingStep(scenario: ScenarioResult): StepResult | undefined {
  if (scenario.outcome === 'PASS' || scenario.outcome === 'SKIP') return undefined;
  return (
    scenario.steps.find((step) => step.outcome === scenario.outcome) ??
    scenario.steps.find((step) => step.outcome === 'FAIL' || step.outcome === 'ERROR')
  );
}

/** Why a scenario did not pass, in one paragraph: the deciding step's message, else the scenario's own. */
export function scenarioMessage(scenario: ScenarioResult): string | undefined {
  return decidingStep(scenario)?.message ?? scenario.message;
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
// Measurements: `offset +0.41s ±0.52s (limit ±2s)`.

interface Scale {
  unit: string;
  factor: number;
  decimals: number;
  /** Drop trailing zeros from values too: units we know nothing about get no invented precision. */
  trim?: boolean;
}

/**
 * Time offsets are recorded in ms but limits are usually whole seconds; show seconds when the
 * quantities are a second or more, so `+410ms ±520ms (limit ±2000ms)` reads `+0.41s ±0.52s (limit ±2s)`.
 */
function scaleFor(measurement: Measurement): Scale {
  const magnitudes = [measurement.value, measurement.uncertainty, measurement.limitLow, measurement.limitHigh]
    .filter((v) => Number.isFinite(v))
    .map(Math.abs);
  const largest = Math.max(0, ...magnitudes);
  if (measurement.unit === 'ms' && largest >= 1000) return { unit: 's', factor: 1 / 1000, decimals: 2 };
  if (measurement.unit === 'ms') return { unit: 'ms', factor: 1, decimals: largest >= 10 ? 0 : 1 };
  if (measurement.unit === 's') return { unit: 's', factor: 1, decimals: 2 };
  return { unit: measurement.unit, factor: 1, decimals: 3, trim: true };
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

/** `±2s` for a symmetric limit, `[-1s, 3s]` otherwise, `≤ 2s` when only one side is bounded. */
export function formatMeasurementLimit(measurement: Measurement): string {
  const scale = scaleFor(measurement);
  const low = measurement.limitLow;
  const high = measurement.limitHigh;
  const show = (v: number): string => withUnit(number(v, scale, { trim: true }), scale.unit);
  if (Number.isFinite(low) && Number.isFinite(high) && low === -high && high >= 0) return `±${show(high)}`;
  if (!Number.isFinite(low) && Number.isFinite(high)) return `≤ ${show(high)}`;
  if (Number.isFinite(low) && !Number.isFinite(high)) return `≥ ${show(low)}`;
  return `[${show(low)}, ${show(high)}]`;
}

/** `offset +0.41s ±0.52s (limit ±2s)`. */
export function formatMeasurement(measurement: Measurement): string {
  if (!Number.isFinite(measurement.limitLow) && !Number.isFinite(measurement.limitHigh)) {
    return `${measurement.name} ${formatMeasurementValue(measurement)} (no limit: recorded only)`;
  }
  return `${measurement.name} ${formatMeasurementValue(measurement)} (limit ${formatMeasurementLimit(measurement)})`;
}

// ---------------------------------------------------------------------------------------------
// Text from boards: tracebacks and transcripts carry control bytes (\x04 from raw REPL, ESC from
// terminal colours) that neither XML 1.0 nor a Markdown table can carry; show them as escapes.

/** `\x04` for a control byte, `\u{d800}` for a lone surrogate or a non-character. */
export function visibleEscape(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** Control characters other than tab, newline and carriage return; lone surrogates; U+FFFE/U+FFFF. */
const UNPRINTABLE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[\ufffe\uffff]/g;

export function makeVisible(text: string): string {
  return text.replace(UNPRINTABLE, visibleEscape);
}

/** One line, for places that cannot hold a paragraph (an XML attribute, a table cell, a terminal column). */
export function oneLine(text: string, maxChars = 300): string {
  const line = makeVisible(text).replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}

/** Model and firmware from the board's own identity, falling back to what the rig file said. */
export function boardModel(board: BoardResult): string | undefined {
  return board.identity?.model ?? board.model;
}
