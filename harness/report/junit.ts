/**
 * junit.xml for CI (Jenkins, GitLab): one <testsuite> per board, one <testcase> per scenario.
 * FAIL (the board misbehaved) becomes <failure type="board">, ERROR (the rig, the input or qhil itself)
 * becomes <error> whose type is that fault class, so a dashboard tells broken firmware from a broken
 * bench. An unfinished record (a scenario or the run left RUNNING) is an <error> too: a killed run must
 * never read as a green build. XML is built and escaped by xmlbuilder2; board text is made safe first
 * (core/text.ts), so characters XML 1.0 cannot carry (NUL, ESC, U+FFFE, lone surrogates) arrive as
 * visible `\x1b`-style escapes rather than as an unparsable file.
 *
 * Retries are written as Maven Surefire writes reruns, which Jenkins, GitLab and most JUnit readers
 * show as flaky: a scenario that passed after a step was retried gets one <flakyError> per attempt that
 * erred; one that still erred or failed gets <rerunError> for each earlier attempt (only the rig's
 * errors are retried, so earlier attempts are errors, never failures). Each measurement is a suite
 * <property> (the schema allows properties on suites only). The file validates against the Jenkins
 * xunit plugin's junit-10.xsd (fixtures/junit/), which is why testcases carry no `file` attribute
 * and <testsuites> no `skipped` or `timestamp`: the scenario file is in each case's system-out.
 */
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { formatDurationMs } from '../core/duration.js';
import { formatLocation } from '../core/errors.js';
import type { BoardResult, RunResult, ScenarioResult, StepResult } from '../core/model.js';
import { safeField } from '../core/text.js';
import {
  allScenarios,
  boardModel,
  countOutcomes,
  decidingStep,
  describeCurrentStep,
  formatMeasurement,
  isUnfinished,
  junitSeconds,
  makeVisible,
  notRunScenarios,
  oneLine,
  scenarioFault,
  scenarioReasons,
  stepLabel,
  UNFINISHED_REASON,
  visibleEscape,
} from './format.js';

export const JUNIT_XML = 'junit.xml';

/** The counts a <testsuite> or <testsuites> element carries. */
interface CaseCounts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

/**
 * What a board's suite holds: its scenarios, and those a stopped run never started (skipped when the
 * run was aborted on purpose, an error when the record was left unfinished: nobody chose to skip them).
 */
function boardCounts(result: RunResult, board: BoardResult): CaseCounts {
  const counts = countOutcomes(board.scenarios);
  const notRun = notRunScenarios(result, board).length;
  const unfinished = isUnfinished(result);
  return {
    tests: counts.total + notRun,
    failures: counts.FAIL,
    errors: counts.ERROR + counts.RUNNING + (unfinished ? notRun : 0),
    skipped: counts.SKIP + (unfinished ? 0 : notRun),
  };
}

/**
 * A record left RUNNING whose scenarios all finished (killed while writing the reports, or before any
 * board started) would otherwise show nothing but passes: it gets one erring case of its own.
 */
function needsUnfinishedCase(result: RunResult): boolean {
  if (!isUnfinished(result)) return false;
  const holes = result.boards.some((board) => notRunScenarios(result, board).length > 0);
  return !holes && !allScenarios(result).some((scenario) => scenario.outcome === 'RUNNING');
}

/** Renders a run as JUnit XML (pure: RunResult in, document text out). */
export function renderJunitXml(result: RunResult): string {
  const root = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: visibleEscape });
  const totals: CaseCounts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const board of result.boards) {
    const counts = boardCounts(result, board);
    totals.tests += counts.tests;
    totals.failures += counts.failures;
    totals.errors += counts.errors;
    totals.skipped += counts.skipped;
  }
  const unfinishedCase = needsUnfinishedCase(result);
  if (unfinishedCase) {
    totals.tests += 1;
    totals.errors += 1;
  }
  const suites = root.ele('testsuites', {
    name: field(`qhil ${result.runId}`),
    tests: String(totals.tests),
    failures: String(totals.failures),
    errors: String(totals.errors),
    time: junitSeconds(result.durationMs),
  });
  result.boards.forEach((board, index) => addBoardSuite(suites, result, board, index));
  if (unfinishedCase) addUnfinishedRunSuite(suites, result, result.boards.length);
  return root.end({ prettyPrint: true, wellFormed: true });
}

function countAttributes(counts: CaseCounts): Record<string, string> {
  return { tests: String(counts.tests), failures: String(counts.failures), errors: String(counts.errors), skipped: String(counts.skipped) };
}

/** An attribute value: one line, every control character visible. */
function field(value: string, maxChars = 2000): string {
  return safeField(value, maxChars);
}

/** Element text: lines kept, every control character visible, length capped. */
function body(value: string): string {
  return makeVisible(value);
}

function addBoardSuite(parent: XMLBuilder, result: RunResult, board: BoardResult, index: number): void {
  const notRun = notRunScenarios(result, board);
  const suite = parent.ele('testsuite', {
    name: field(board.id),
    id: String(index),
    hostname: field(result.host.hostname),
    timestamp: field(board.scenarios[0]?.startedAt ?? result.startedAt),
    ...countAttributes(boardCounts(result, board)),
    time: junitSeconds(board.scenarios.reduce((ms, scenario) => ms + scenario.durationMs, 0)),
  });
  addProperties(suite, result, board);
  for (const scenario of board.scenarios) addScenarioCase(suite, board, scenario);
  const unfinished = isUnfinished(result);
  for (const scenario of notRun) {
    const testcase = suite.ele('testcase', { classname: className(board), name: field(scenario.name), time: '0.000' });
    if (unfinished) {
      testcase.ele('error', { message: `not run: ${UNFINISHED_REASON} before this scenario started`, type: 'unfinished' });
    } else {
      testcase.ele('skipped', { message: 'not run: the run was aborted before this scenario started' });
    }
  }
  if (board.transcripts.length > 0) {
    suite.ele('system-out').txt(body(`Transcripts (relative to the run folder):\n${board.transcripts.map((t) => `  ${t}`).join('\n')}\n`));
  }
}

function addUnfinishedRunSuite(parent: XMLBuilder, result: RunResult, index: number): void {
  const suite = parent.ele('testsuite', {
    name: 'qhil',
    id: String(index),
    hostname: field(result.host.hostname),
    timestamp: field(result.startedAt),
    ...countAttributes({ tests: 1, failures: 0, errors: 1, skipped: 0 }),
    time: junitSeconds(result.durationMs),
  });
  suite
    .ele('testcase', { classname: 'qhil', name: field(`run ${result.runId} finished`), time: junitSeconds(result.durationMs) })
    .ele('error', { message: UNFINISHED_REASON, type: 'unfinished' })
    .txt(`${UNFINISHED_REASON}: every scenario recorded here ended, but the run's own record was never completed, so this is not a verdict.\n`);
}

function className(board: BoardResult): string {
  return field(`qhil.${board.id}`);
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
    ...board.scenarios.flatMap((scenario) =>
      scenario.steps.flatMap((step) =>
        step.measurements.map((m): [string, string] => [
          `measurement.${scenario.scenario}.step${step.index + 1}.${m.name}`,
          `value=${m.value}${m.unit} uncertainty=${m.uncertainty}${m.unit} low=${m.low}${m.unit} high=${m.high}${m.unit} ` +
            `limit=[${m.limitLow},${m.limitHigh}]${m.unit} outcome=${m.outcome}`,
        ]),
      ),
    ),
  ];
  const present = properties.filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (present.length === 0) return;
  const element = suite.ele('properties');
  for (const [name, value] of present) element.ele('property', { name: field(name), value: field(value) });
}

function addScenarioCase(suite: XMLBuilder, board: BoardResult, scenario: ScenarioResult): void {
  const testcase = suite.ele('testcase', {
    classname: className(board),
    name: field(scenario.scenario),
    time: junitSeconds(scenario.durationMs),
  });
  const step = decidingStep(scenario);
  const reasons = scenarioReasons(scenario);
  if (scenario.outcome === 'RUNNING') {
    testcase.ele('error', { message: oneLine(reasons.join('; ')), type: 'unfinished' }).txt(body(failureDetail(scenario, step, board)));
  } else if (scenario.outcome === 'FAIL' || scenario.outcome === 'ERROR') {
    // Both reasons when the scenario's own ERROR came after a step's (a board that could not be closed).
    const why = reasons.length > 0 ? reasons.join('; ') : `${scenario.outcome}, no reason was recorded`;
    const headline = step ? `${stepLabel(step)}: ${why}` : why;
    testcase
      .ele(scenario.outcome === 'FAIL' ? 'failure' : 'error', {
        message: oneLine(headline),
        // Whose fault, as an exception class would say: `board` for every failure; `rig`, `input` or `harness` for an error.
        type: scenarioFault(scenario) ?? 'rig',
      })
      .txt(body(failureDetail(scenario, step, board)));
  } else if (scenario.outcome === 'SKIP') {
    testcase.ele('skipped', reasons.length > 0 ? { message: oneLine(reasons.join('; ')) } : {});
  }
  addReruns(testcase, scenario);
  testcase.ele('system-out').txt(body(stepLog(scenario, board)));
}

/**
 * Earlier attempts of retried steps, as Surefire reruns: flaky when the scenario passed in the end,
 * reruns of the error when it did not. Their own messages are in events.jsonl (`step-retry`).
 */
function addReruns(testcase: XMLBuilder, scenario: ScenarioResult): void {
  const element = scenario.outcome === 'PASS' ? 'flakyError' : scenario.outcome === 'FAIL' || scenario.outcome === 'ERROR' ? 'rerunError' : undefined;
  if (!element) return;
  for (const step of scenario.steps) {
    for (let attempt = 1; attempt < step.attempts; attempt++) {
      testcase
        .ele(element, { message: oneLine(`${stepLabel(step)}: attempt ${attempt} of ${step.attempts} erred and was retried`), type: 'rig' })
        .txt(`${stepLabel(step)} (${step.kind}, ${formatLocation(step.location)}): attempt ${attempt} erred (the rig's fault, so it was retried); its message is the step-retry event in events.jsonl\n`);
    }
  }
}

function failureDetail(scenario: ScenarioResult, step: StepResult | undefined, board: BoardResult): string {
  const lines: string[] = [];
  if (step) {
    lines.push(`${stepLabel(step)} (${step.kind}, ${formatLocation(step.location)}) ${step.outcome} after ${step.attempts === 1 ? '1 attempt' : `${step.attempts} attempts`}`);
    for (const m of step.measurements) lines.push(`  ${formatMeasurement(m)}: ${m.outcome}`);
  }
  const fault = scenarioFault(scenario);
  if (fault === 'harness') lines.push('', 'qhil itself failed (a bug in qhil, not the board or the rig): please report it; the stack is in events.jsonl');
  for (const reason of scenarioReasons(scenario)) lines.push('', reason);
  if (scenario.outcome !== 'RUNNING' && scenarioReasons(scenario).length === 0) lines.push('', 'No reason was recorded.');
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
  const current = scenario.outcome === 'RUNNING' ? describeCurrentStep(scenario) : undefined;
  if (current) lines.push(`  ${current} ... RUNNING when the record stopped`);
  if (board.transcripts.length > 0) lines.push(`  transcripts: ${board.transcripts.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function isProblem(step: StepResult): boolean {
  return step.outcome === 'FAIL' || step.outcome === 'ERROR';
}

function indent(text: string, prefix: string): string[] {
  return text.split(/\r?\n/).map((line) => `${prefix}${line}`);
}
