/**
 * Report figures: time to write report.html for a 1-board and a 128-board run (with their
 * transcripts), its size, the PDF's time, and history.html over 500 run folders.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BoardResult, RunResult } from '../core/model.js';
import { writeHistory } from '../report/history.js';
import { loadAttachments } from '../report/html/attachments.js';
import { renderReportHtml, REPORT_HTML } from '../report/html/report.js';
import { parseResultJson } from '../report/json.js';
import { writeRenderedReports } from '../report/write.js';
import { median, round } from './stats.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/results/fail/result.json', import.meta.url));

/** A transcript of `lines` exchanges around the fixture's steps, as link/transcript.ts writes them. */
function transcript(startIso: string, lines: number): string {
  const startMs = Date.parse(startIso);
  const out: string[] = [`${startIso} -- open /dev/ttyUSB5`];
  for (let i = 0; i < lines; i++) {
    const at = new Date(startMs + i * 10).toISOString();
    out.push(i % 2 === 0 ? `${at} tx ${JSON.stringify('\x01import utime; print(utime.localtime())\x04')}` : `${at} rx ${JSON.stringify('OK(2025, 3, 4, 2, 0, 6, 1, 63)\r\n\x04\x04>')}`);
  }
  return `${out.join('\n')}\n`;
}

async function runWithBoards(dir: string, boards: number, transcriptLines: number): Promise<RunResult> {
  const template = parseResultJson(await readFile(FIXTURE, 'utf8'), FIXTURE);
  const board = template.boards[0] as BoardResult;
  const result: RunResult = { ...template, boards: [] };
  await mkdir(join(dir, 'transcripts'), { recursive: true });
  for (let i = 0; i < boards; i++) {
    const id = `board-${String(i).padStart(3, '0')}`;
    const copy: BoardResult = structuredClone(board);
    copy.id = id;
    copy.transcripts = [`transcripts/${id}-repl.log`];
    for (const s of copy.scenarios) s.board = id;
    await writeFile(join(dir, copy.transcripts[0] as string), transcript(template.startedAt, transcriptLines));
    result.boards.push(copy);
  }
  return result;
}

async function timeReport(boards: number, runs: number): Promise<{ ms: number; htmlMs: number; bytes: number; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), `qhil-bench-report-${boards}-`));
  const result = await runWithBoards(dir, boards, 400);
  const samples: number[] = [];
  const htmlSamples: number[] = [];
  for (let i = 0; i < runs; i++) {
    let startedAt = performance.now();
    await writeRenderedReports(dir, result);
    samples.push(performance.now() - startedAt);
    startedAt = performance.now();
    renderReportHtml(result, await loadAttachments(dir, result));
    htmlSamples.push(performance.now() - startedAt);
  }
  const { size } = await stat(join(dir, REPORT_HTML));
  return { ms: median(samples), htmlMs: median(htmlSamples), bytes: size, dir };
}

async function timeHistory(runs: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'qhil-bench-history-'));
  try {
    const template = parseResultJson(await readFile(FIXTURE, 'utf8'), FIXTURE);
    const startMs = Date.parse('2026-01-01T02:00:00Z');
    for (let i = 0; i < runs; i++) {
      const result = structuredClone(template);
      result.runId = `run-${i}`;
      result.startedAt = new Date(startMs + i * 86_400_000).toISOString();
      for (let b = 1; b < 4; b++) result.boards.push({ ...structuredClone(template.boards[0] as BoardResult), id: `board-${b}` });
      await mkdir(join(dir, result.runId));
      await writeFile(join(dir, result.runId, 'result.json'), JSON.stringify(result));
    }
    const startedAt = performance.now();
    await writeHistory(dir);
    return performance.now() - startedAt;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchReport(): Promise<Record<string, number | string>> {
  const figures: Record<string, number | string> = {};
  const one = await timeReport(1, 5);
  const many = await timeReport(128, 3);
  try {
    figures['report.html alone (read transcripts, render), 1 board, median ms'] = round(one.htmlMs);
    figures['junit+summary+report.html, 1 board (400-line transcript), median ms'] = round(one.ms);
    figures['report.html size, 1 board, KiB'] = round(one.bytes / 1024, 1);
    figures['report.html alone, 128 boards, median ms'] = round(many.htmlMs);
    figures['junit+summary+report.html, 128 boards, median ms'] = round(many.ms);
    figures['report.html size, 128 boards, KiB'] = round(many.bytes / 1024, 1);
    try {
      const { writeReportPdf } = await import('../report/pdf.js');
      for (const [label, dir] of [
        ['1 board', one.dir],
        ['128 boards', many.dir],
      ] as const) {
        const startedAt = performance.now();
        await writeReportPdf(dir);
        figures[`report.pdf, ${label} (browser start included), ms`] = round(performance.now() - startedAt);
      }
    } catch (error) {
      figures['report.pdf'] = `not measured: ${(error as Error).message.split('\n')[0]}`;
    }
  } finally {
    await rm(one.dir, { recursive: true, force: true });
    await rm(many.dir, { recursive: true, force: true });
  }
  figures['history.html over 500 run folders (4 boards each), ms'] = round(await timeHistory(500));
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchReport());
}
