import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../core/model.js';
import { readResultJson } from './json.js';
import { renderSummaryMarkdown } from './markdown.js';
import { mergeRunResults } from './merge.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/results');
const load = (name: string): Promise<RunResult> => readResultJson(join(FIXTURES, name, 'result.json'));

/** The lines of the Markdown table that follows `heading`'s header row. */
function tableRows(markdown: string, header: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(header);
  if (start < 0) throw new Error(`no table with header ${header}`);
  const rows: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line);
  }
  return rows;
}

const RESULTS_HEADER = '| Board | Scenario | Outcome | Duration | Key measurement |';

describe('renderSummaryMarkdown', () => {
  it('starts with the verdict', async () => {
    const [pass, fail, error] = await Promise.all([load('pass'), load('fail'), load('error')]);
    expect(renderSummaryMarkdown(pass).split('\n')[0]).toBe('# qhil 20250304-020000-pass: PASS');
    expect(renderSummaryMarkdown(fail)).toMatch(/^# qhil 20250304-020000-fail: FAIL\n\n\*\*FAIL: a board misbehaved\.\*\* 0 passed, 1 failed/);
    expect(renderSummaryMarkdown(error)).toContain('**ERROR: the rig or harness failed');
  });

  it('names each board firmware for the sign-off', async () => {
    const md = renderSummaryMarkdown(await load('pass'));
    const [row] = tableRows(md, '| Board | Model | Firmware | QuecPython | IMEI | Ports |');
    expect(row).toBe(
      '| sim-1 | EC200U-EU | EC200UEUAAR03A01M08_OCPU_QPY | v1.12 | 860000000000001 | repl tcp://127.0.0.1:7001, at tcp://127.0.0.1:7002 |',
    );
  });

  it('shows a failing measurement with its value, uncertainty, limit and outcome', async () => {
    const md = renderSummaryMarkdown(await load('fail'));
    expect(tableRows(md, RESULTS_HEADER)).toEqual([
      '| ec200u-01 | ntp-sync-repl | **FAIL** | 2.70s | offset +3.41s ±0.52s (limit ±2s) FAIL |',
    ]);
    const section = md.slice(md.indexOf('## Failures and errors'), md.indexOf('## Boards'));
    expect(section).toContain('### FAIL: ec200u-01 / ntp-sync-repl');
    expect(section).toContain('Step #4 compare t1 with reference (timezone 0, tolerance 2s) (`compare`, scenarios/ntp-sync-repl.yaml:11:5)');
    expect(section).toContain('board clock is +3.41s ±0.52s from the reference, outside the tolerance of ±2s');
    expect(tableRows(section, '| Measurement | Value | Limit | Outcome |')).toEqual(['| offset | +3.41s ±0.52s | ±2s | FAIL |']);
    expect(section).toContain('[transcripts/ec200u-01-repl.log](<transcripts/ec200u-01-repl.log>)');
  });

  it('has no failure section when everything passed', async () => {
    expect(renderSummaryMarkdown(await load('pass'))).not.toContain('## Failures and errors');
  });

  it('shows an infrastructure error with its message', async () => {
    const md = renderSummaryMarkdown(await load('error'));
    expect(md).toContain('### ERROR: ec200u-02 / ntp-sync-at');
    expect(md).toContain('/dev/ttyUSB2: port disappeared while waiting for OK (USB disconnect)');
    expect(md).toContain('after 30.0s and 3 attempts');
  });

  it('lists reference servers with offset and uncertainty', async () => {
    const md = renderSummaryMarkdown(await load('pass'));
    expect(tableRows(md, '| Servers | Host clock offset | Uncertainty | Measured at |')).toEqual([
      '| pool.ntp.org | +1.8ms | ±7.5ms | 2025-03-04T02:00:01.200Z |',
    ]);
  });

  it('says an aborted run is incomplete and which scenarios never ran', async () => {
    const md = renderSummaryMarkdown(await load('aborted'));
    expect(md.split('\n')[0]).toBe('# qhil 20250304-020000-aborted: ERROR (aborted)');
    expect(md).toContain('**The run was aborted**');
    expect(md).toContain('0 skipped, 1 not run');
    expect(tableRows(md, RESULTS_HEADER)).toContain('| sim-1 | ntp-sync-at | not run (aborted) | | |');
  });

  it('keeps untrusted board text from breaking tables, code blocks or injecting HTML', async () => {
    const result = await load('fail');
    const board = result.boards[0];
    const scenario = board?.scenarios[0];
    const step = scenario?.steps[3];
    if (!board || !scenario || !step) throw new Error('fixture changed');
    board.identity = { firmware: 'FW|1 <script>x</script> *bold* _x_', details: {} };
    scenario.scenario = 'a|b';
    step.message = 'before\n```\n<img src=x>\x04 still inside';

    const md = renderSummaryMarkdown(result);
    const [boardRow] = tableRows(md, '| Board | Model | Firmware | QuecPython | IMEI | Ports |');
    expect(boardRow).toContain('| FW\\|1 &lt;script&gt;x&lt;/script&gt; \\*bold\\* \\_x\\_ |');
    // Each results row still has exactly five cells.
    const [resultRow] = tableRows(md, RESULTS_HEADER);
    expect(resultRow?.split(/(?<!\\)\|/).length).toBe(7);
    // The message's own ``` cannot close the block: the fence is longer.
    expect(md).toContain('````\nbefore\n```\n<img src=x>\\x04 still inside\n````');
  });

  it('shows one results table per run when merged', async () => {
    const parts = await Promise.all([load('pass'), load('fail')]);
    const merged = mergeRunResults(
      parts.map((result, i) => ({ runDir: `runs/${i}`, result })),
      'runs/out',
    );
    const md = renderSummaryMarkdown(merged, { parts });
    expect(md.split('\n')[0]).toBe('# qhil 20250304-020000-pass+20250304-020000-fail: FAIL');
    expect(md).toContain('### Run 20250304-020000-pass: PASS');
    expect(md).toContain('### Run 20250304-020000-fail: FAIL');
    expect(md).toContain('1 passed, 1 failed, 0 errors, 0 skipped across 2 boards');
    // Transcript links lead from the merged folder back to each run's folder.
    expect(md).toContain('[../1/transcripts/ec200u-01-repl.log](<../1/transcripts/ec200u-01-repl.log>)');
  });
});

describe('renderSummaryMarkdown, unfinished records and reasons', () => {
  it('says UNFINISHED first for a record left RUNNING, and what it was doing', async () => {
    const md = renderSummaryMarkdown(await load('unfinished'));
    expect(md.split('\n')[0]).toBe('# qhil 20250304-020000-unfinished: UNFINISHED');
    expect(md).toContain('**UNFINISHED: this is not a verdict, and not a pass.**');
    expect(md).toContain('> **UNFINISHED:** the run did not finish: the record was left RUNNING (process killed, disk full, or stopped twice).');
    expect(md).toContain('> - sim-1 / ntp-sync-repl: was at step #3 read localtime via repl as t1');
    expect(tableRows(md, RESULTS_HEADER)).toEqual([
      '| sim-1 | ntp-sync-repl | **RUNNING (unfinished)** | 2.52s |  |',
      '| sim-1 | ntp-sync-at | **not run (unfinished)** | | |',
    ]);
    expect(md).not.toMatch(/\bPASS:/);
  });

  it('says UNFINISHED for an aborted record with a RUNNING scenario, and for a RUNNING run of passes', async () => {
    const aborted = await load('aborted');
    const scenario = aborted.boards[0]?.scenarios[0];
    if (!scenario) throw new Error('fixture changed');
    scenario.outcome = 'RUNNING';
    expect(renderSummaryMarkdown(aborted).split('\n')[0]).toBe('# qhil 20250304-020000-aborted: UNFINISHED (aborted)');
    const pass = await load('pass');
    pass.outcome = 'RUNNING';
    const md = renderSummaryMarkdown(pass);
    expect(md.split('\n')[0]).toBe('# qhil 20250304-020000-pass: UNFINISHED');
    expect(md).toContain('**UNFINISHED: this is not a verdict, and not a pass.**');
  });

  it('shows the reason and whose fault an ERROR is when it replaced the outcome without a step', async () => {
    const result = await load('skip');
    const scenario = result.boards[0]?.scenarios[0];
    if (!scenario) throw new Error('fixture changed');
    Object.assign(scenario, { outcome: 'ERROR', fault: 'rig', message: 'board sim-2 could not be opened: /dev/ttyUSB9 missing', steps: [] });
    const md = renderSummaryMarkdown(result);
    const section = md.slice(md.indexOf('## Failures and errors'), md.indexOf('## Boards'));
    expect(section).toContain('### ERROR: sim-2 / ntp-sync-repl');
    expect(section).toContain('Whose fault: **the rig**');
    expect(section).toContain('```\nboard sim-2 could not be opened: /dev/ttyUSB9 missing\n```');
  });

  it('shows an ERROR that came after the steps passed, next to nothing else', async () => {
    const result = await load('pass');
    const scenario = result.boards[0]?.scenarios[0];
    if (!scenario) throw new Error('fixture changed');
    Object.assign(scenario, { outcome: 'ERROR', fault: 'rig', message: 'board sim-1 has no REPL port' });
    const md = renderSummaryMarkdown(result);
    expect(md).toContain('```\nboard sim-1 has no REPL port\n```');
  });

  it('lists harness bugs apart, asking for a report', async () => {
    const result = await load('error');
    const step = result.boards[0]?.scenarios[0]?.steps[0];
    const scenario = result.boards[0]?.scenarios[0];
    if (!step || !scenario) throw new Error('fixture changed');
    Object.assign(step, { fault: 'harness', message: "TypeError: Cannot read properties of undefined (reading 'port')" });
    Object.assign(scenario, { fault: 'harness' });
    const md = renderSummaryMarkdown(result);
    const bugs = md.slice(md.indexOf('## qhil itself failed: please report'), md.indexOf('## Results'));
    expect(bugs).toContain('ec200u-02 / ntp-sync-at step #1 dial via at profile 1');
    expect(bugs).toContain("TypeError: Cannot read properties of undefined (reading 'port')");
    expect(md.indexOf('## qhil itself failed')).toBeLessThan(md.indexOf('## Results'));
    expect(md).toContain('Whose fault: **qhil itself**');
    expect(renderSummaryMarkdown(await load('error'))).not.toContain('qhil itself failed');
  });
});

describe('renderSummaryMarkdown, hostile board text', () => {
  it('cannot break out of a code block, a code span or a table, and injects no HTML or terminal codes', async () => {
    const result = await load('fail');
    const board = result.boards[0];
    const scenario = board?.scenarios[0];
    const step = scenario?.steps[3];
    if (!board || !scenario || !step) throw new Error('fixture changed');
    step.message = 'x\n````\n# Injected heading\n<script>alert(1)</script>\n\x1b]52;c;SGVsbG8=\x07\x1b]0;pwned\x07\x1b[2J\x00\n``````';
    step.kind = 'comp`are';
    board.identity = { firmware: 'FW ``` | x </td> <b>', model: 'M\u202eX', details: { 'k|`': 'v\n| fake | row |' } };

    const md = renderSummaryMarkdown(result);
    expect(md).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202e]/);
    // The fence is longer than the longest backtick run in the message (six), so it holds it all.
    expect(md).toContain('```````\nx\n````\n# Injected heading\n<script>alert(1)</script>\n\\x1b]52;c;SGVsbG8=\\x07\\x1b]0;pwned\\x07\\x1b[2J\\x00\n``````\n```````');
    // A code span around a backtick is delimited by two.
    expect(md).toContain('(``comp`are``,');
    const [boardRow] = tableRows(md, '| Board | Model | Firmware | QuecPython | IMEI | Ports |');
    // The escape's backslash is itself escaped, so it renders as `\u202e`.
    expect(boardRow).toContain('| M\\\\u202eX | FW \\`\\`\\` \\| x &lt;/td&gt; &lt;b&gt; |');
    expect(boardRow?.split(/(?<!\\)\|/).length).toBe(8);
    expect(md).toContain('- ec200u-01: k\\|\\`: v \\| fake \\| row \\|');
  });
});
