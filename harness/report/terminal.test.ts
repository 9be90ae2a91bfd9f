import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunEvent, RunResult, ScenarioResult } from '../core/model.js';
import { readResultJson } from './json.js';
import { ProgressReporter, type TerminalIo } from './terminal.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/results');
const load = (name: string): Promise<RunResult> => readResultJson(join(FIXTURES, name, 'result.json'));

function capture(interactive: boolean, color?: boolean): TerminalIo & { text: () => string } {
  let out = '';
  return { interactive, color, write: (t: string) => void (out += t), text: () => out };
}

/** The events a runner emits for `result`, in order. */
function eventsOf(result: RunResult): RunEvent[] {
  const at = result.startedAt;
  const events: RunEvent[] = [
    { type: 'run-start', at, runId: result.runId, scenarios: result.scenarios.map((s) => s.name), boards: result.boards.map((b) => b.id) },
  ];
  for (const board of result.boards) {
    events.push({ type: 'board-ready', at, board: board.id, identity: board.identity, ports: board.ports });
    for (const scenario of board.scenarios) {
      events.push({ type: 'scenario-start', at, board: board.id, scenario: scenario.scenario });
      for (const step of scenario.steps) {
        events.push({ type: 'step-start', at, board: board.id, scenario: scenario.scenario, index: step.index, kind: step.kind, title: step.title });
        events.push({ type: 'step-end', at, board: board.id, scenario: scenario.scenario, result: step });
      }
      events.push({ type: 'scenario-end', at, board: board.id, result: scenario });
    }
  }
  events.push({ type: 'run-end', at, outcome: result.outcome === 'RUNNING' ? 'ERROR' : result.outcome, aborted: result.aborted, exitCode: result.exitCode });
  return events;
}

function play(reporter: ProgressReporter, result: RunResult, reportDir?: string): void {
  for (const event of eventsOf(result)) reporter.onEvent(event);
  reporter.finish(result, reportDir);
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('ProgressReporter, plain (CI logs, pipes)', () => {
  it('prints one line per step end and the failure message indented under it', async () => {
    const io = capture(false);
    play(new ProgressReporter(io), await load('fail'), 'reports/20250304-020000-fail');
    const lines = io.text().split('\n');
    expect(lines).toContain('[ec200u-01] ready: EC200U-EU, firmware EC200UEUAAR03A01M08_OCPU_QPY, QuecPython v1.12 (repl /dev/ttyUSB5, at /dev/ttyUSB2)');
    expect(lines).toContain('[ec200u-01] ntp-sync-repl  #2 sync via repl with pool.ntp.org ... PASS 1.32s');
    const failLine = lines.indexOf('[ec200u-01] ntp-sync-repl  #4 compare t1 with reference (timezone 0, tolerance 2s) ... FAIL 4ms');
    expect(failLine).toBeGreaterThan(0);
    expect(lines[failLine + 1]).toBe('    offset +3.41s ±0.52s (limit ±2s) FAIL');
    expect(lines[failLine + 2]).toMatch(/^ {4}board clock is \+3\.41s ±0\.52s from the reference, outside the tolerance/);
    expect(lines).toContain('[ec200u-01] ntp-sync-repl  FAIL 2.70s');
  });

  it('ends with a table, the verdict, where the transcripts are and the report folder', async () => {
    const io = capture(false);
    play(new ProgressReporter(io), await load('fail'), 'reports/20250304-020000-fail');
    const text = io.text();
    const table = text.slice(text.indexOf('BOARD'));
    expect(table.split('\n').slice(0, 2)).toEqual([
      'BOARD      SCENARIO       OUTCOME  DURATION  KEY MEASUREMENT',
      'ec200u-01  ntp-sync-repl  FAIL     2.70s     offset +3.41s ±0.52s (limit ±2s)',
    ]);
    expect(table).toContain('FAIL: 0 passed, 1 failed, 0 errors, 0 skipped (1 board, 5.00s)');
    expect(table).toContain('FAIL ec200u-01 / ntp-sync-repl  #4 compare t1 with reference');
    expect(table).toContain('    transcript: reports/20250304-020000-fail/transcripts/ec200u-01-repl.log');
    expect(table.trimEnd().endsWith('Reports: reports/20250304-020000-fail')).toBe(true);
  });

  it('uses no colour and no cursor movement, even if colour is asked for', async () => {
    const io = capture(false, true);
    play(new ProgressReporter(io), await load('error'));
    expect(io.text()).not.toContain('\x1b');
  });

  it('shows why a scenario ended badly outside any step', async () => {
    const result = await load('skip');
    const scenario = result.boards[0]?.scenarios[0] as ScenarioResult;
    const io = capture(false);
    const reporter = new ProgressReporter(io);
    reporter.onEvent({ type: 'scenario-end', at: result.startedAt, board: 'sim-2', result: { ...scenario, outcome: 'ERROR', message: 'board sim-2\nnot reachable' } });
    expect(io.text()).toBe('[sim-2] ntp-sync-repl  ERROR 0ms\n    board sim-2\n    not reachable\n');
  });

  it('lists what an aborted run never started', async () => {
    const io = capture(false);
    new ProgressReporter(io).finish(await load('aborted'));
    expect(io.text()).toMatch(/^sim-1 {2}ntp-sync-at {4}not run$/m);
    expect(io.text()).toContain('ERROR (run aborted: results incomplete): 0 passed, 0 failed, 1 error, 0 skipped, 1 not run');
  });

  it('shows retries and warnings as they happen', () => {
    const io = capture(false);
    const reporter = new ProgressReporter(io);
    const at = '2025-03-04T02:00:00.000Z';
    reporter.onEvent({ type: 'step-retry', at, board: 'b1', scenario: 's', index: 0, attempt: 2, message: 'port gone\nreopening' });
    reporter.onEvent({ type: 'log', at, level: 'warn', message: 'reference pool.ntp.org slow' });
    expect(io.text()).toBe('[b1] s  #1 retry, attempt 2: port gone reopening\nwarn: reference pool.ntp.org slow\n');
  });
});

describe('ProgressReporter, interactive (a person at a terminal)', () => {
  it('keeps a live line per board with its current step and elapsed time', () => {
    let now = 1000;
    const io = capture(true, false);
    const reporter = new ProgressReporter(io, { nowMs: () => now });
    const at = '2025-03-04T02:00:00.000Z';
    reporter.onEvent({ type: 'run-start', at, runId: 'r', scenarios: ['ntp-sync-repl'], boards: ['sim-1', 'sim-2'] });
    reporter.onEvent({ type: 'step-start', at, board: 'sim-1', scenario: 'ntp-sync-repl', index: 1, kind: 'sync', title: 'sync via repl' });
    now = 4200;
    reporter.onEvent({ type: 'log', at, level: 'info', message: 'hello' });
    const text = io.text();
    // The block was erased (cursor up two lines, erase down) before "hello" was printed above it.
    expect(text).toContain('\x1b[2F\x1b[Jinfo: hello\n');
    const block = text.slice(text.lastIndexOf('info: hello\n') + 'info: hello\n'.length);
    expect(block).toMatch(/^. \[sim-1\] ntp-sync-repl {2}#2 sync via repl {2}3\.20s\n {2}\[sim-2\] waiting\n$/);
    reporter.finish({ ...emptyRun(), boards: [] });
  });

  it('prints failures in colour above the block and erases the block before the final table', async () => {
    vi.stubEnv('NO_COLOR', '');
    const io = capture(true);
    const result = await load('fail');
    play(new ProgressReporter(io), result);
    const text = io.text();
    expect(text).toContain('\x1b[31mFAIL\x1b[0m 4ms');
    expect(text).not.toContain('#2 sync via repl with pool.ntp.org ... PASS'); // passing steps stay in the live block
    const final = text.slice(text.lastIndexOf('\x1b[J') + 3);
    expect(final).toContain('\x1b[1mBOARD');
    expect(final).toContain('\x1b[31mFAIL   \x1b[0m');
    expect(final).not.toContain('[ec200u-01] idle');
  });

  it('leaves colour out when NO_COLOR is set', async () => {
    vi.stubEnv('NO_COLOR', '1');
    const io = capture(true);
    play(new ProgressReporter(io), await load('fail'));
    expect(io.text()).not.toMatch(/\x1b\[3\dm/);
    expect(io.text()).toContain('\x1b[J'); // still redrawn in place
  });

  it('stops redrawing once finished', async () => {
    vi.useFakeTimers();
    try {
      const io = capture(true, false);
      const reporter = new ProgressReporter(io);
      const result = await load('pass');
      play(reporter, result);
      const length = io.text().length;
      vi.advanceTimersByTime(1000);
      expect(io.text().length).toBe(length);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the live block within the terminal on a large rig: busy boards first, the rest counted', () => {
    const io = { ...capture(true, false), rows: 12 };
    const reporter = new ProgressReporter(io, { nowMs: () => 0 });
    const at = '2025-03-04T02:00:00.000Z';
    const boards = Array.from({ length: 50 }, (_, i) => `sim-${i}`);
    reporter.onEvent({ type: 'run-start', at, runId: 'r', scenarios: ['s'], boards });
    for (const board of boards.slice(30)) reporter.onEvent({ type: 'step-start', at, board, scenario: 's', index: 0, kind: 'dial', title: 'dial' });
    reporter.onEvent({ type: 'log', at, level: 'info', message: 'hello' });
    const text = io.text();
    const block = text.slice(text.lastIndexOf('info: hello\n') + 'info: hello\n'.length).trimEnd().split('\n');
    expect(block).toHaveLength(10);
    expect(block.slice(0, 9).every((line) => /\[sim-(3\d|4\d)\] s {2}#1 dial/.test(line))).toBe(true);
    expect(block[9]).toBe('  … and 41 more boards: 11 running, 0 done, 30 waiting');
    // The next redraw erases exactly what was drawn.
    reporter.onEvent({ type: 'log', at, level: 'info', message: 'again' });
    expect(io.text()).toContain('\x1b[10F\x1b[Jinfo: again\n');
    reporter.finish({ ...emptyRun(), boards: [] });
  });

  it('redraws about ten times a second while a step runs', () => {
    vi.useFakeTimers();
    try {
      const io = capture(true, false);
      const reporter = new ProgressReporter(io);
      const at = '2025-03-04T02:00:00.000Z';
      reporter.onEvent({ type: 'step-start', at, board: 'sim-1', scenario: 's', index: 0, kind: 'wait', title: 'wait 5s' });
      const before = io.text().split('\x1b[1F').length;
      vi.advanceTimersByTime(1000);
      const redraws = io.text().split('\x1b[1F').length - before;
      expect(redraws).toBeGreaterThanOrEqual(8);
      expect(redraws).toBeLessThanOrEqual(11);
      reporter.finish(emptyRun());
    } finally {
      vi.useRealTimers();
    }
  });
});

function emptyRun(): RunResult {
  return {
    runId: 'r',
    tool: { name: 'qhil', version: '0.1.0' },
    startedAt: '2025-03-04T02:00:00.000Z',
    aborted: false,
    outcome: 'PASS',
    exitCode: 0,
    host: { hostname: 'h', platform: 'linux', node: 'v20' },
    tags: [],
    scenarios: [],
    boards: [],
    references: [],
  };
}

/** Anything a terminal would act on rather than print (tab and newline are text). */
const TERMINAL_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = 'osc52 \x1b]52;c;SGVsbG8=\x07 title \x1b]0;pwned\x07 clear \x1b[2J nul \x00 rtl \u202e end';
const VISIBLE = 'osc52 \\x1b]52;c;SGVsbG8=\\x07 title \\x1b]0;pwned\\x07 clear \\x1b[2J nul \\x00 rtl \\u202e end';

describe('ProgressReporter, hostile board text', () => {
  it('shows a hostile identity in the ready line as visible escapes, on one line', () => {
    const io = capture(false);
    const reporter = new ProgressReporter(io);
    reporter.onEvent({
      type: 'board-ready',
      at: '2025-03-04T02:00:00.000Z',
      board: 'board-1',
      identity: { model: HOSTILE, firmware: `FW\n[board-2] ready: forged`, quecpython: '\x1b[31mv1\x1b[0m', details: {} },
      ports: { at: '/dev/ttyUSB2' },
    });
    expect(io.text()).toBe(
      `[board-1] ready: ${VISIBLE}, firmware FW\\x0a[board-2] ready: forged, QuecPython \\x1b[31mv1\\x1b[0m (at /dev/ttyUSB2)\n`,
    );
  });

  it('never writes a control character from board text, in either mode, up to the final table', async () => {
    for (const interactive of [false, true]) {
      const result = await load('fail');
      const board = result.boards[0];
      const scenario = board?.scenarios[0];
      const step = scenario?.steps[3];
      if (!board || !scenario || !step) throw new Error('fixture changed');
      step.message = `${HOSTILE}\nlast bytes received: ${HOSTILE}`;
      step.title = `compare ${HOSTILE}`;
      scenario.message = HOSTILE;
      board.identity = { model: HOSTILE, firmware: HOSTILE, details: {} };
      const io = capture(interactive, false);
      const reporter = new ProgressReporter(io);
      play(reporter, result, 'reports/x');
      reporter.onEvent({ type: 'log', at: result.startedAt, level: 'warn', message: HOSTILE });
      // Only the reporter's own cursor movement (interactive) may use ESC.
      const text = io.text().replace(/\x1b\[\d*F\x1b\[J/g, '');
      expect(text).not.toMatch(TERMINAL_CONTROL);
      expect(text).toContain(VISIBLE);
      expect(text).toContain(`    last bytes received: ${VISIBLE}`);
    }
  });
});

describe('ProgressReporter, unfinished records and harness bugs', () => {
  it('shows a RUNNING scenario in the final table and never calls the run a pass', async () => {
    const io = capture(false);
    new ProgressReporter(io).finish(await load('unfinished'));
    const text = io.text();
    expect(text).toMatch(/^sim-1 {2}ntp-sync-repl {2}RUNNING {2}2\.52s$/m);
    expect(text).toContain('UNFINISHED: 0 passed, 0 failed, 0 errors, 0 skipped, 1 unfinished, 1 not run (1 board)');
    expect(text).toContain('RUNNING sim-1 / ntp-sync-repl  at #3 read localtime via repl as t1');
    expect(text).not.toMatch(/^PASS/m);
  });

  it('says UNFINISHED for a RUNNING run whose scenarios all passed', async () => {
    const result = await load('pass');
    result.outcome = 'RUNNING';
    const io = capture(false);
    new ProgressReporter(io).finish(result);
    expect(io.text()).toMatch(/^UNFINISHED: 1 passed, 0 failed/m);
  });

  it('prints a harness bug when it happens and lists it apart at the end', async () => {
    const io = capture(false);
    const reporter = new ProgressReporter(io);
    const at = '2025-03-04T02:00:00.000Z';
    reporter.onEvent({ type: 'harness-bug', at, board: 'sim-1', scenario: 'ntp-sync-repl', index: 0, message: 'TypeError: x is undefined', stack: 'at y' });
    expect(io.text()).toBe('[sim-1] qhil itself failed (a bug, please report it; the stack is in events.jsonl): TypeError: x is undefined\n');
    reporter.finish(await load('pass'));
    const final = io.text().slice(io.text().indexOf('BOARD'));
    expect(final).toContain('qhil itself failed: please report');
    expect(final).toContain('  sim-1 / ntp-sync-repl: TypeError: x is undefined');
  });

  it('lists a harness bug recorded in the result', async () => {
    const result = await load('error');
    const scenario = result.boards[0]?.scenarios[0];
    if (!scenario) throw new Error('fixture changed');
    Object.assign(scenario, { fault: 'harness', message: 'qhil itself failed on board ec200u-02: RangeError: boom' });
    const io = capture(false);
    new ProgressReporter(io).finish(result);
    expect(io.text()).toContain('qhil itself failed: please report');
    expect(io.text()).toContain('  ec200u-02 / ntp-sync-at: qhil itself failed on board ec200u-02: RangeError: boom');
  });
});
