import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Measurement, RunResult } from '../../core/model.js';
import { buildHistory } from '../history.js';
import { readResultJson } from '../json.js';
import { emptyAttachments, readTranscriptView, TRANSCRIPT_SHOWN_LINES } from './attachments.js';
import { renderIntervalChart, type ChartPoint } from './chart.js';
import { esc, jsonForScript, safeHref } from './escape.js';
import { CONTENT_SECURITY_POLICY } from './page.js';
import { renderReportHtml } from './report.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/results');
const load = (name: string): Promise<RunResult> => readResultJson(join(FIXTURES, name, 'result.json'));

describe('escaping', () => {
  it('escapes markup and quotes, and shows control characters as escapes', () => {
    expect(esc('<img src=x onerror="a()">&\'')).toBe('&lt;img src=x onerror=&quot;a()&quot;&gt;&amp;&#39;');
    expect(esc('\x1b[31mred\x07')).toBe('\\x1b[31mred\\x07');
    expect(esc('\u202eevil')).toBe('\\u202eevil');
  });

  it('embeds JSON so that no </script> or <!-- can end the element, and it parses back the same', () => {
    const value = { s: '</script><script>alert(1)</script><!--', t: '\u2028&' };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('links only plain relative paths', () => {
    expect(safeHref('transcripts/sim-1-repl.log')).toBe('transcripts/sim-1-repl.log');
    expect(safeHref('../fail/transcripts/a b.log')).toBe('../fail/transcripts/a%20b.log');
    for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:x', 'data:text/html,x', '//evil.example/x', '/etc/passwd', 'http://x', 'a\nb']) {
      expect(safeHref(bad), bad).toBeUndefined();
    }
  });

  it('allows no network and no script but its own', () => {
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'none'/);
    expect(CONTENT_SECURITY_POLICY).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline/);
  });
});

function point(x: number, value: number, halfWidth: number): ChartPoint {
  return { x, value, low: value - halfWidth, high: value + halfWidth, limitLow: -2000, limitHigh: 2000, outcome: 'PASS', label: `p${x}` };
}

describe('interval chart', () => {
  it('one panel when the bars are a second wide; a zoomed one too when they are milliseconds wide', () => {
    const wide = renderIntervalChart({ title: 'offset', unit: 'ms', xKind: 'index', points: [point(1, 400, 500), point(2, -100, 500)] });
    expect(wide.match(/<svg /g)).toHaveLength(1);
    const narrow = renderIntervalChart({ title: 'offset', unit: 'ms', xKind: 'index', points: [point(1, 12.5, 2.5), point(2, 14, 2)] });
    expect(narrow.match(/<svg /g)).toHaveLength(2);
    // In the zoomed panel a 5 ms bar is tens of pixels tall, not a fraction of one.
    const zoom = narrow.slice(narrow.indexOf('data-panel="zoom"'));
    const bar = /<line class="bar" x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)" y2="([\d.]+)"/.exec(zoom);
    expect(Math.abs(Number(bar?.[1]) - Number(bar?.[2]))).toBeGreaterThan(20);
    expect(narrow).toContain('data-value="12.5"');
  });

  it('draws nothing for no points, and a band only where limits are finite', () => {
    expect(renderIntervalChart({ title: 't', unit: 'ms', xKind: 'index', points: [] })).toBe('');
    const unlimited = renderIntervalChart({
      title: 't',
      unit: 'ppm',
      xKind: 'index',
      points: [{ ...point(1, 3, 0.5), limitLow: -Infinity, limitHigh: Infinity }],
    });
    expect(unlimited).not.toContain('class="band"');
    expect(unlimited).toContain('ppm');
  });
});

describe('report.html without JavaScript', () => {
  it('holds the verdict, totals, firmware, reason and points in the markup itself', async () => {
    const result = await load('fail');
    const html = renderReportHtml(result, emptyAttachments(result));
    const markup = html.slice(0, html.indexOf('<script type="application/json"'));
    expect(markup).toContain('id="verdict">FAIL</span>');
    expect(markup).toContain('0 passed, 1 failed, 0 errors, 0 skipped');
    expect(markup).toContain('EC200UEUAAR03A01M08_OCPU_QPY');
    expect(markup).toContain('outside the tolerance of ±2s');
    expect(markup).toContain('data-value="3410"');
    expect(markup).toMatch(/<details class="scenario o-FAIL"[^>]* open>/);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
  });

  it('says UNFINISHED for a record left RUNNING', async () => {
    const result = await load('unfinished');
    expect(renderReportHtml(result, emptyAttachments(result))).toContain('id="verdict">UNFINISHED</span>');
  });
});

describe('transcripts in the report', () => {
  it('keeps the last lines of a big transcript and says it is cut', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qhil-transcript-'));
    try {
      const lines = Array.from({ length: TRANSCRIPT_SHOWN_LINES + 500 }, (_, i) => `2026-01-01T00:00:00.000Z rx ${JSON.stringify(`line ${i}\r\n`)}`);
      await writeFile(join(dir, 't.log'), `${lines.join('\n')}\n2026-01-01T00:00:01.000Z -- closed\n`);
      const view = await readTranscriptView(dir, 't.log');
      expect(view.cut).toBe(true);
      expect(view.lines).toHaveLength(TRANSCRIPT_SHOWN_LINES);
      expect(view.lines.at(-1)).toEqual({ hostWallTime: '2026-01-01T00:00:01.000Z', direction: 'mark', text: 'closed' });
      expect(view.lines.at(-2)?.text).toBe(`line ${TRANSCRIPT_SHOWN_LINES + 499}\r\n`);
      const small = await readTranscriptView(dir, 't.log', 4096);
      expect(small.shownLines).toBeGreaterThan(10);
      expect(small.shownLines).toBeLessThan(100);
      expect(small.lines).toHaveLength(TRANSCRIPT_SHOWN_LINES);
      const missing = await readTranscriptView(dir, 'nope.log');
      expect(missing.problem).toBe('ENOENT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('history', () => {
  function run(i: number, firmware: string, outcome: 'PASS' | 'FAIL', attempts = 1, offsetMs = 0): { runDir: string; result: RunResult } {
    const m: Measurement = { name: 'offset', value: offsetMs, unit: 'ms', low: offsetMs - 5, high: offsetMs + 5, uncertainty: 5, limitLow: -2000, limitHigh: 2000, outcome: 'PASS' };
    const at = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString();
    return {
      runDir: `r${i}`,
      result: {
        runId: `r${i}`,
        tool: { name: 'qhil', version: '0.1.0' },
        startedAt: at,
        aborted: false,
        outcome,
        exitCode: 0,
        host: { hostname: 'h', platform: 'linux', node: 'v20' },
        tags: [],
        scenarios: [{ name: 's', file: 's.yaml' }],
        references: [],
        boards: [
          {
            id: 'b1',
            identity: { firmware, details: {} },
            ports: {},
            transcripts: [],
            scenarios: [
              {
                scenario: 's',
                file: 's.yaml',
                board: 'b1',
                outcome,
                startedAt: at,
                durationMs: 1,
                steps: [
                  { index: 0, kind: 'compare', title: 'c', outcome, startedAt: at, durationMs: 1, attempts, measurements: [m], data: {}, location: { file: 's.yaml', line: 1, column: 1 } },
                ],
              },
            ],
          },
        ],
      },
    };
  }

  it('calls out flips with the same firmware, not a change that came with new firmware, and passes on retry', () => {
    const history = buildHistory('reports', [run(0, 'A', 'PASS'), run(1, 'A', 'PASS', 2), run(2, 'B', 'FAIL'), run(3, 'B', 'PASS'), run(4, 'B', 'PASS')]);
    const [series] = history.series;
    expect(series?.flips).toEqual([{ fromRun: 'r2', toRun: 'r3', firmware: 'B', from: 'FAIL', to: 'PASS' }]);
    expect(series?.passedOnRetry).toEqual(['r1']);
    expect(series?.firmwareChanges.map((c) => c.runId)).toEqual(['r2']);
    expect(series?.passRate).toBeCloseTo(0.8);
  });

  it('orders runs by time whatever the folder order, and leaves merged records out', () => {
    const merged = run(9, 'A', 'PASS');
    merged.result.runId = 'r0+r1';
    const history = buildHistory('reports', [run(2, 'A', 'PASS', 1, 30), run(0, 'A', 'PASS', 1, 10), merged, run(1, 'A', 'PASS', 1, 20)]);
    expect(history.runs).toBe(3);
    expect(history.series[0]?.entries.map((e) => e.offset?.value)).toEqual([10, 20, 30]);
  });
});
