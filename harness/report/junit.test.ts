import { join } from 'node:path';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../core/model.js';
import { readResultJson } from './json.js';
import { renderJunitXml } from './junit.js';
import { mergeRunResults } from './merge.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/results');
const load = (name: string): Promise<RunResult> => readResultJson(join(FIXTURES, name, 'result.json'));

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * Parses with saxes, a strict XML 1.0 parser: it rejects what Jenkins' and GitLab's parsers reject
 * (unescaped `<` or `&`, control characters, mismatched tags), so a document it accepts is one CI can read.
 */
function parseXml(xml: string): XmlElement {
  const parser = new SaxesParser();
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: Error | undefined;
  parser.on('error', (error) => {
    failure ??= error;
  });
  parser.on('opentag', (tag) => {
    const element: XmlElement = { name: tag.name, attributes: { ...(tag.attributes as Record<string, string>) }, children: [], text: '' };
    stack.at(-1)?.children.push(element);
    root ??= element;
    stack.push(element);
  });
  parser.on('text', (text) => {
    const top = stack.at(-1);
    if (top) top.text += text;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.write(xml).close();
  if (failure) throw failure;
  if (!root) throw new Error('no root element');
  return root;
}

function children(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((child) => child.name === name);
}

function child(element: XmlElement, name: string): XmlElement {
  const found = children(element, name)[0];
  if (!found) throw new Error(`<${element.name}> has no <${name}>`);
  return found;
}

function property(suite: XmlElement, name: string): string | undefined {
  return children(child(suite, 'properties'), 'property').find((p) => p.attributes.name === name)?.attributes.value;
}

describe('renderJunitXml', () => {
  it('the test parser rejects what CI parsers reject', () => {
    expect(() => parseXml('<a>x & y</a>')).toThrow();
    expect(() => parseXml('<a>\x04</a>')).toThrow();
    expect(() => parseXml('<a><b></a>')).toThrow();
  });

  it('writes one suite per board and one case per scenario, with counts CI reads', async () => {
    const merged = mergeRunResults(
      await Promise.all(['pass', 'fail', 'error', 'skip'].map(async (name) => ({ runDir: `runs/${name}`, result: await load(name) }))),
      'runs/merged',
    );
    const root = parseXml(renderJunitXml(merged));
    expect(root.name).toBe('testsuites');
    expect(root.attributes).toMatchObject({ tests: '4', failures: '1', errors: '1' });
    const suites = children(root, 'testsuite');
    // junit-10.xsd has no `skipped` on <testsuites>: the suites carry it.
    expect(suites.reduce((n, s) => n + Number(s.attributes.skipped), 0)).toBe(1);
    expect(suites.map((s) => s.attributes.name)).toEqual(['sim-1', 'ec200u-01', 'ec200u-02', 'sim-2']);
    for (const suite of suites) {
      expect(suite.attributes.hostname).toBe('bench-1');
      expect(suite.attributes.timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(children(suite, 'testcase')).toHaveLength(Number(suite.attributes.tests));
      for (const testcase of children(suite, 'testcase')) {
        expect(testcase.attributes.classname).toBe(`qhil.${suite.attributes.name}`);
        expect(Number(testcase.attributes.time)).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('keeps a board failure apart from a rig error', async () => {
    const fail = child(child(parseXml(renderJunitXml(await load('fail'))), 'testsuite'), 'testcase');
    expect(fail.attributes.name).toBe('ntp-sync-repl');
    expect(children(fail, 'error')).toHaveLength(0);
    const failure = child(fail, 'failure');
    expect(failure.attributes.type).toBe('board');
    expect(failure.attributes.message).toContain('#4 compare t1 with reference');
    expect(failure.attributes.message).toContain('outside the tolerance of ±2s');
    expect(failure.text).toContain('offset +3.41s ±0.52s (limit ±2s): FAIL');

    const error = child(child(parseXml(renderJunitXml(await load('error'))), 'testsuite'), 'testcase');
    expect(children(error, 'failure')).toHaveLength(0);
    const element = child(error, 'error');
    expect(element.attributes.type).toBe('rig');
    expect(element.attributes.message).toContain('port disappeared while waiting for OK (USB disconnect)');
    expect(element.text).toContain('after 3 attempts');
  });

  it('marks a skipped scenario skipped, with its reason', async () => {
    const testcase = child(child(parseXml(renderJunitXml(await load('skip'))), 'testsuite'), 'testcase');
    expect(child(testcase, 'skipped').attributes.message).toContain('has no REPL port');
    expect(children(testcase, 'failure')).toHaveLength(0);
  });

  it('lists the scenarios an aborted run never started as skipped', async () => {
    const root = parseXml(renderJunitXml(await load('aborted')));
    expect(root.attributes).toMatchObject({ tests: '2', errors: '1' });
    const suite = child(root, 'testsuite');
    expect(suite.attributes.skipped).toBe('1');
    expect(property(suite, 'run.aborted')).toBe('true');
    const notRun = children(suite, 'testcase').find((t) => t.attributes.name === 'ntp-sync-at');
    expect(notRun && child(notRun, 'skipped').attributes.message).toMatch(/not run: the run was aborted/);
  });

  it('names firmware, model and identity in the suite properties', async () => {
    const suite = child(parseXml(renderJunitXml(await load('fail'))), 'testsuite');
    expect(property(suite, 'board.firmware')).toBe('EC200UEUAAR03A01M08_OCPU_QPY');
    expect(property(suite, 'board.model')).toBe('EC200U-EU');
    expect(property(suite, 'board.quecpython')).toBe('v1.12');
    expect(property(suite, 'board.imei')).toBe('860000000000001');
    expect(property(suite, 'board.identity.manufacturer')).toBe('Quectel');
  });

  it('puts the steps and the transcript paths in system-out', async () => {
    const testcase = child(child(parseXml(renderJunitXml(await load('fail'))), 'testsuite'), 'testcase');
    const out = child(testcase, 'system-out').text;
    expect(out).toContain('#2 sync via repl with pool.ntp.org ... PASS 1.32s');
    expect(out).toContain('#4 compare t1 with reference (timezone 0, tolerance 2s) ... FAIL');
    expect(out).toContain('transcripts/ec200u-01-repl.log');
  });

  it('survives board output full of XML syntax and control bytes, and shows them visibly', async () => {
    const result = await load('fail');
    const board = result.boards[0];
    const step = board?.scenarios[0]?.steps[3];
    if (!board || !step) throw new Error('fixture changed');
    const traceback = 'Traceback <most recent call last>:\r\n  File "<stdin>", line 1\nOSError: a & b ]]> c\x04\x04>\x1b[0m';
    step.message = traceback;
    step.data = { raw: 'OK\x04"]]>"<&', tuple: ['<a>', 1] };
    board.id = 'board<&>"1"';
    board.identity = { firmware: 'FW\x00<1>&"', details: { 'odd key': '\x07bell' } };

    const xml = renderJunitXml(result);
    const root = parseXml(xml); // throws on anything a strict parser rejects
    const suite = child(root, 'testsuite');
    expect(suite.attributes.name).toBe('board<&>"1"');
    expect(property(suite, 'board.firmware')).toBe('FW\\x00<1>&"');
    expect(property(suite, 'board.identity.odd key')).toBe('\\x07bell');
    const testcase = child(suite, 'testcase');
    expect(testcase.attributes.classname).toBe('qhil.board<&>"1"');
    const failure = child(testcase, 'failure');
    // The message attribute is one line; the body keeps the traceback's lines.
    expect(failure.attributes.message).toContain('OSError: a & b ]]> c\\x04\\x04>\\x1b[0m');
    expect(failure.attributes.message).not.toMatch(/[\r\n]/);
    expect(failure.text).toContain('  File "<stdin>", line 1\nOSError: a & b ]]> c\\x04\\x04>\\x1b[0m');
    const out = child(testcase, 'system-out').text;
    expect(out).toContain('raw: OK\\x04"]]>"<&');
    expect(out).toContain('tuple: ["<a>",1]');
    expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
  });

  it('renders a run that had no board at all', async () => {
    const result = await load('pass');
    result.boards = [];
    const root = parseXml(renderJunitXml(result));
    expect(root.attributes).toMatchObject({ tests: '0', failures: '0', errors: '0' });
    expect(children(root, 'testsuite')).toHaveLength(0);
  });
});

describe('renderJunitXml, unfinished records', () => {
  it('gives a scenario left RUNNING an <error>, and the scenarios never started too', async () => {
    const root = parseXml(renderJunitXml(await load('unfinished')));
    expect(root.attributes).toMatchObject({ tests: '2', failures: '0', errors: '2' });
    const suite = child(root, 'testsuite');
    expect(suite.attributes).toMatchObject({ tests: '2', errors: '2', skipped: '0' });
    const [running, notRun] = children(suite, 'testcase');
    const error = child(running as XmlElement, 'error');
    expect(error.attributes.type).toBe('unfinished');
    expect(error.attributes.message).toContain('the run did not finish: the record was left RUNNING (process killed, disk full, or stopped twice)');
    expect(error.attributes.message).toContain('#3 read localtime via repl as t1');
    expect(child(notRun as XmlElement, 'error').attributes.message).toMatch(/^not run: the run did not finish/);
    expect(children(notRun as XmlElement, 'skipped')).toHaveLength(0);
  });

  it('does the same for an aborted record with a RUNNING scenario', async () => {
    const result = await load('aborted');
    const scenario = result.boards[0]?.scenarios[0];
    if (!scenario) throw new Error('fixture changed');
    scenario.outcome = 'RUNNING';
    const root = parseXml(renderJunitXml(result));
    expect(root.attributes).toMatchObject({ errors: '2' });
    expect(child(root, 'testsuite').attributes.skipped).toBe('0');
    expect(child(children(child(root, 'testsuite'), 'testcase')[0] as XmlElement, 'error').attributes.type).toBe('unfinished');
  });

  it('never reads as a pass when the run says RUNNING but every scenario passed', async () => {
    const result = await load('pass');
    result.outcome = 'RUNNING';
    const root = parseXml(renderJunitXml(result));
    expect(root.attributes).toMatchObject({ tests: '2', errors: '1' });
    const extra = children(root, 'testsuite').at(-1);
    expect(extra?.attributes.name).toBe('qhil');
    expect(child(child(extra as XmlElement, 'testcase'), 'error').attributes.message).toContain('the run did not finish');
  });

  it('keeps an unfinished run unfinished when merged with a passing one', async () => {
    const merged = mergeRunResults(
      [{ runDir: 'runs/u', result: await load('unfinished') }, { runDir: 'runs/p', result: await load('pass') }],
      'runs/merged',
    );
    expect(merged.outcome).toBe('RUNNING');
    expect(merged.exitCode).toBe(3);
    const root = parseXml(renderJunitXml(merged));
    expect(Number(root.attributes.errors)).toBeGreaterThanOrEqual(2);
    expect(root.attributes.failures).toBe('0');
  });
});

describe('renderJunitXml, reasons', () => {
  it('shows the reason of an ERROR that replaced the outcome with no step, typed by its fault class', async () => {
    for (const fault of ['rig', 'input', 'harness'] as const) {
      const result = await load('skip');
      const scenario = result.boards[0]?.scenarios[0];
      if (!scenario) throw new Error('fixture changed');
      Object.assign(scenario, { outcome: 'ERROR', fault, message: `board sim-2 could not be opened (${fault})`, steps: [] });
      const error = child(child(child(parseXml(renderJunitXml(result)), 'testsuite'), 'testcase'), 'error');
      expect(error.attributes.type).toBe(fault);
      expect(error.attributes.message).toBe(`board sim-2 could not be opened (${fault})`);
      expect(error.text).toContain(`board sim-2 could not be opened (${fault})`);
      if (fault === 'harness') expect(error.text).toContain('qhil itself failed');
    }
  });

  it('shows the reason of an ERROR that came after every step passed', async () => {
    const result = await load('pass');
    const scenario = result.boards[0]?.scenarios[0];
    if (!scenario) throw new Error('fixture changed');
    Object.assign(scenario, { outcome: 'ERROR', fault: 'rig', message: 'board sim-1 has no REPL port' });
    const error = child(child(child(parseXml(renderJunitXml(result)), 'testsuite'), 'testcase'), 'error');
    expect(error.attributes).toMatchObject({ type: 'rig', message: 'board sim-1 has no REPL port' });
  });

  it('keeps both reasons when a scenario erred after a step failed', async () => {
    const result = await load('fail');
    const scenario = result.boards[0]?.scenarios[0];
    if (!scenario) throw new Error('fixture changed');
    Object.assign(scenario, { outcome: 'ERROR', fault: 'rig', message: '/dev/ttyUSB5 vanished while closing' });
    const error = child(child(child(parseXml(renderJunitXml(result)), 'testsuite'), 'testcase'), 'error');
    expect(error.attributes.message).toContain('outside the tolerance of ±2s');
    expect(error.attributes.message).toContain('/dev/ttyUSB5 vanished while closing');
  });
});

describe('renderJunitXml, hostile board text', () => {
  const HOSTILE = 'osc52 \x1b]52;c;SGVsbG8=\x07 title \x1b]0;pwned\x07 clear \x1b[2J nul \x00 nonchar \ufffe lone \ud800 close </failure> cdata ]]> c1 \x9b';

  it('writes a file a strict parser accepts, with every forbidden character shown as an escape', async () => {
    const result = await load('fail');
    const board = result.boards[0];
    const scenario = board?.scenarios[0];
    const step = scenario?.steps[3];
    if (!board || !scenario || !step) throw new Error('fixture changed');
    step.message = `${HOSTILE}\nsecond line ${HOSTILE}`;
    step.data = { answer: HOSTILE };
    scenario.scenario = `name ${HOSTILE}`;
    board.identity = { firmware: HOSTILE, model: HOSTILE, details: { [`key ${HOSTILE}`]: HOSTILE } };
    result.host.hostname = HOSTILE;

    const xml = renderJunitXml(result);
    // NUL, ESC, BEL, U+FFFE, lone surrogates and C1 controls are never written as themselves.
    expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]|[\ud800-\udfff]/);
    const root = parseXml(xml);
    const suite = child(root, 'testsuite');
    const visible = 'osc52 \\x1b]52;c;SGVsbG8=\\x07 title \\x1b]0;pwned\\x07 clear \\x1b[2J nul \\x00 nonchar \\ufffe lone \\ud800 close </failure> cdata ]]> c1 \\x9b';
    expect(suite.attributes.hostname).toBe(visible);
    expect(property(suite, 'board.firmware')).toBe(visible);
    const testcase = child(suite, 'testcase');
    expect(testcase.attributes.name).toBe(`name ${visible}`);
    const failure = child(testcase, 'failure');
    expect(failure.attributes.message).toContain(visible);
    expect(failure.text).toContain(`${visible}\nsecond line ${visible}`);
    expect(child(testcase, 'system-out').text).toContain(`answer: ${visible}`);
    // The only failure element is the real one: the board's `</failure>` did not close it.
    expect(children(testcase, 'failure')).toHaveLength(1);
  });

  it('caps a flood of board output instead of writing it all', async () => {
    const result = await load('fail');
    const step = result.boards[0]?.scenarios[0]?.steps[3];
    if (!step) throw new Error('fixture changed');
    step.message = 'x'.repeat(5_000_000);
    const xml = renderJunitXml(result);
    expect(xml.length).toBeLessThan(200_000);
    expect(child(child(child(parseXml(xml), 'testsuite'), 'testcase'), 'failure').text).toMatch(/more characters not shown/);
  });
});
