/**
 * junit.xml for CI (Jenkins, GitLab): one <testsuite> per board, one <testcase> per scenario.
 * FAIL (the board misbehaved) becomes <failure>, ERROR (the rig or harness did) becomes <error>, so a
 * dashboard tells broken firmware from a broken bench. XML is built and escaped by xmlbuilder2; text
 * that XML 1.0 cannot carry at all (control bytes from a raw REPL, ESC colour codes) is replaced by a
 * visible `\x04`-style escape rather than dropped.
 */
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { formatDurationMs } from '../core/duration.js';
import { formatLocation } from '../core/errors.js';
import type { BoardResult, RunResult, ScenarioResult, StepResult } from '../core/model.js';
import {
  allScenarios,
  boardModel,
  countNotRun,
  countOutcomes,
  decidingStep,
  formatMeasurement,
  junitSeconds,
  notRunScenarios,
  oneLine,
  scenarioMessage,
  stepLabel,
  visibleEscape,
} from './format.js';

export const JUNIT_XML = 'junit.xml';

/** Renders a run as JUnit XML (pure: RunResult in, document text out). */
export function renderJunitXml(result: RunResult): string {
  const root = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: visibleEscape });
  const counts = countOutcomes(allScenarios(result));
  const notRun = countNotRun(result);
  const suites = root.ele('testsuites', {
    name: `qhil ${result.runId}`,
    tests: String(counts.total + notRun),
    failures: String(counts.FAIL),
    errors: String(counts.ERROR),
    skipped: String(counts.SKIP + notRun),
    time: junitSeconds(result.durationMs),
    timestamp: result.startedAt,
  });
  result.boards.forEach((board, index) => addBoardSuite(suites, result, board, index));
  return root.end({ prettyPrint: true, wellFormed: true });
}

function addBoardSuite(parent: XMLBuilder, result: RunResult, board: BoardResult, index: number): void {
  const counts = countOutcomes(board.scenarios);
  const notRun = notRunScenarios(result, board);
  const suite = parent.ele('testsuite', {
    name: board.id,
    id: String(index),
    hostname: result.host.hostname,
    timestamp: board.scenarios[0]?.startedAt ?? result.startedAt,
    tests: String(counts.total + notRun.length),
    failures: String(counts.FAIL),
    errors: String(counts.ERROR),
    skipped: String(counts.SKIP + notRun.length),
    time: junitSeconds(board.scenarios.reduce((ms, scenario) => ms + scenario.durationMs, 0)),
  });
  addProperties(suite, result, board);
  for (const scenario of board.scenarios) addScenarioCase(suite, board, scenario);
  for (const scenario of notRun) {
    suite
      .ele('testcase', { classname: className(board), name: scenario.name, file: scenario.file, time: '0.000' })
      .ele('skipped', { message: 'not run: the run was aborted before this scenario started' });
  }
  if (board.transcripts.length > 0) {
    suite.ele('system-out').txt(`Transcripts (relative to the run folder):\n${board.transcripts.map((t) => `  ${t}`).join('\n')}\n`);
  }
}

function className(board: BoardResult): string {
  return `qhil.${board.id}`;
}

/** Firmware and identity go into properties: QA and CI history both key on the firmware version. */
function addProperties(suite: XMLBuilder, result: RunResult, board: BoardResult): void {
  const properties: [string, string | undefined][] = [
    ['qhil.version', result.tool.version],
    ['run.id', result.runId],
    ['run.aborted', result.aborted ? 'true' : undefined],
    ['run.tags', result.tags.length > 0 ? result.tags.join(',') : undefined],
    ['board.model', boardModel(board)],
    ['board.firmware', board.identity?.firmware],
    ['board.quecpython', board.identity?.quecpython],
    ['board.imei', board.identity?.imei],
    ['board.port.at', board.ports.at],
    ['board.port.repl', board.ports.repl],
    ...Object.entries(board.identity?.details ?? {}).map(([key, value]): [string, string] => [`board.identity.${key}`, value]),
    ...board.transcripts.map((path): [string, string] => ['board.transcript', path]),
    ...result.references.map((ref): [string, string] => [
      'reference',
      `${ref.servers.join(' ')}: host offset ${ref.offsetMs}ms ±${ref.uncertaintyMs}ms at ${ref.measuredAt}`,
    ]),
  ];
  const present = properties.filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (present.length === 0) return;
  const element = suite.ele('properties');
  for (const [name, value] of present) element.ele('property', { name, value });
}

function addScenarioCase(suite: XMLBuilder, board: BoardResult, scenario: ScenarioResult): void {
  const testcase = suite.ele('testcase', {
    classname: className(board),
    name: scenario.scenario,
    file: scenario.file,
    time: junitSeconds(scenario.durationMs),
  });
  const step = decidingStep(scenario);
  const message = scenarioMessage(scenario);
  if (scenario.outcome === 'FAIL' || scenario.outcome === 'ERROR') {
    const headline = step ? `${stepLabel(step)}: ${message ?? scenario.outcome}` : (message ?? scenario.outcome);
    testcase
      .ele(scenario.outcome === 'FAIL' ? 'failure' : 'error', {
        message: oneLine(headline),
        // The step kind says what kind of check broke (`compare`, `sync`), as an exception class would.
        type: step?.kind ?? 'scenario',
      })
      .txt(failureDetail(scenario, step, board));
  } else if (scenario.outcome === 'SKIP') {
    testcase.ele('skipped', message ? { message: oneLine(message) } : {});
  }
  testcase.ele('system-out').txt(stepLog(scenario, board));
}

function failureDetail(scenario: ScenarioResult, step: StepResult | undefined, board: BoardResult): string {
  const lines: string[] = [];
  if (step) {
    lines.push(`${stepLabel(step)} (${step.kind}, ${formatLocation(step.location)}) ${step.outcome} after ${step.attempts === 1 ? '1 attempt' : `${step.attempts} attempts`}`);
    for (const m of step.measurements) lines.push(`  ${formatMeasurement(m)}: ${m.outcome}`);
  }
  const message = scenarioMessage(scenario);
  if (message) lines.push('', message);
  if (step && scenario.message && scenario.message !== step.message) lines.push('', scenario.message);
  if (board.transcripts.length > 0) lines.push('', `Transcripts: ${board.transcripts.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** Step by step, as a person would read the run; non-passing steps carry what the board said. */
function stepLog(scenario: ScenarioResult, board: BoardResult): string {
  const lines = [
    `${scenario.scenario} on ${board.id}: ${scenario.outcome} in ${formatDurationMs(scenario.durationMs)} (${scenario.file}, started ${scenario.startedAt})`,
  ];
  for (const step of scenario.steps) {
    const retries = step.attempts > 1 ? `, ${step.attempts} attempts` : '';
    lines.push(`  ${stepLabel(step)} ... ${step.outcome} ${formatDurationMs(step.durationMs)}${retries}`);
    for (const m of step.measurements) lines.push(`      ${formatMeasurement(m)}: ${m.outcome}`);
    if (isProblem(step)) {
      if (step.message) lines.push(...indent(step.message, '      '));
      for (const [key, value] of Object.entries(step.data)) {
        lines.push(...indent(`${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`, '      '));
      }
    }
  }
  if (scenario.message && scenario.steps.every((step) => step.message !== scenario.message)) {
    lines.push(...indent(scenario.message, '  '));
  }
  if (board.transcripts.length > 0) lines.push(`  transcripts: ${board.transcripts.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function isProblem(step: StepResult): boolean {
  return step.outcome === 'FAIL' || step.outcome === 'ERROR';
}

function indent(text: string, prefix: string): string[] {
  return text.split(/\r?\n/).map((line) => `${prefix}${line}`);
}
