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
