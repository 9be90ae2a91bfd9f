/**
 * junit.xml against a published JUnit schema: the Jenkins xunit plugin's junit-10.xsd, vendored in
 * fixtures/junit/ (MIT; see its README), checked with libxml2's `xmllint --schema`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../core/model.js';
import { HOSTILE_LINE, HOSTILE_OUTPUT } from '../testing/hostile-board.js';
import { readResultJson } from './json.js';
import { renderJunitXml } from './junit.js';
import { mergeRunResults } from './merge.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/results');
const XSD = join(import.meta.dirname, '../../fixtures/junit/junit-10.xsd');
const load = (name: string): Promise<RunResult> => readResultJson(join(FIXTURES, name, 'result.json'));

const hasXmllint = spawnSync('xmllint', ['--version']).status === 0;

/** xmllint's verdict on `xml`: '' when it validates, else its complaints. */
function schemaProblems(xml: string): string {
  const run = spawnSync('xmllint', ['--noout', '--schema', XSD, '-'], { input: xml, encoding: 'utf8' });
  return run.status === 0 ? '' : run.stderr || `xmllint exited ${run.status}`;
}

/** The fixture `pass` with its sync step retried twice before it passed. */
async function passedOnRetry(): Promise<RunResult> {
  const result = await load('pass');
  const step = result.boards[0]?.scenarios[0]?.steps[1];
  if (!step) throw new Error('fixture changed');
  step.attempts = 3;
  return result;
}

describe.skipIf(!hasXmllint)('junit.xml against junit-10.xsd (xmllint)', () => {
  it('the check can fail: a testcase without a name, or an unknown element, is rejected', () => {
    expect(schemaProblems('<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase/></testsuite></testsuites>')).toMatch(/name/);
    expect(schemaProblems('<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="x"><oops/></testcase></testsuite></testsuites>')).not.toBe('');
  });

  it('validates every fixture record, a merged one, retried steps and hostile board text', async () => {
    const names = ['pass', 'fail', 'error', 'skip', 'aborted', 'unfinished'];
    const documents: [string, RunResult][] = await Promise.all(names.map(async (name): Promise<[string, RunResult]> => [name, await load(name)]));
    documents.push(['merged', mergeRunResults(await Promise.all(names.map(async (name) => ({ runDir: `runs/${name}`, result: await load(name) }))), 'runs/merged')]);
    documents.push(['passed on retry', await passedOnRetry()]);
    const erred = await load('error');
    const hostile = await load('fail');
    const board = hostile.boards[0];
    const step = board?.scenarios[0]?.steps[3];
    if (!board || !step) throw new Error('fixture changed');
    board.id = HOSTILE_LINE;
    board.identity = { firmware: HOSTILE_LINE, model: '<img src=x onerror=alert(1)>', details: { [HOSTILE_LINE]: HOSTILE_OUTPUT } };
    step.message = HOSTILE_OUTPUT;
    step.attempts = 2;
    documents.push(['error', erred], ['hostile', hostile]);
    for (const [name, result] of documents) expect(schemaProblems(renderJunitXml(result)), name).toBe('');
  });
});

describe('junit.xml reruns and measurements', () => {
  it('writes a step that passed only on retry as Surefire flakyError elements, and keeps the case passing', async () => {
    const xml = renderJunitXml(await passedOnRetry());
    expect(xml.match(/<flakyError /g)).toHaveLength(2);
    expect(xml).toMatch(/<flakyError message="#2 [^"]*attempt 1 of 3 erred and was retried" type="rig">/);
    expect(xml).not.toMatch(/<(failure|error|rerunError) /);
  });

  it('writes the earlier attempts of a step that still erred as rerunError, apart from failures', async () => {
    const result = await load('error');
    const attempts = result.boards[0]?.scenarios[0]?.steps.find((s) => s.outcome === 'ERROR')?.attempts ?? 0;
    expect(attempts).toBeGreaterThan(1);
    const xml = renderJunitXml(result);
    expect(xml.match(/<rerunError /g)).toHaveLength(attempts - 1);
    expect(xml).not.toMatch(/<(failure|flakyError|flakyFailure) /);
  });

  it('records each measurement as a suite property, with its interval, limit and outcome', async () => {
    const xml = renderJunitXml(await load('fail'));
    expect(xml).toContain(
      '<property name="measurement.ntp-sync-repl.step4.offset" value="value=3410ms uncertainty=520ms low=2890ms high=3930ms limit=[-2000,2000]ms outcome=FAIL"/>',
    );
  });
});
