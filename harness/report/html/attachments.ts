/**
 * What report.html shows besides result.json, read from disk once before rendering (rendering itself
 * stays pure): the transcripts' last part, capped, and the scenario files' sha256 for the sign-off.
 * Transcript lines are `<host wall ISO> tx|rx "<JSON of the bytes as latin1>"` and `<ISO> -- <marker>`
 * (link/transcript.ts); they are parsed here again because the report layer sits below the link layer.
 */
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { RunResult } from '../../core/model.js';

/**
 * The part of a transcript a report reads (to find where a failing step happened) and at most shows:
 * the rest is one link away, in transcripts/.
 */
export const TRANSCRIPT_SHOWN_BYTES = 256 * 1024;
export const TRANSCRIPT_SHOWN_LINES = 2000;
/** What all of a run's transcripts may add to report.html together, so a 128-board report stays mailable. */
export const TRANSCRIPTS_TOTAL_SHOWN_BYTES = 2 * 1024 * 1024;
const TRANSCRIPT_MIN_SHOWN_BYTES = 8 * 1024;

export interface TranscriptLine {
  /** Host wall-clock ISO time the chunk was seen. */
  hostWallTime: string;
  direction: 'tx' | 'rx' | 'mark';
  /** Decoded as UTF-8 (invalid bytes become U+FFFD); escaped only when rendered. */
  text: string;
}

export interface TranscriptView {
  /** As recorded in result.json: relative to the run folder. */
  path: string;
  /** The last lines of the file (up to TRANSCRIPT_SHOWN_BYTES / _LINES): where failing steps are looked up. */
  lines: TranscriptLine[];
  /** How many of the last `lines` the transcript section shows (the run's budget shared by its transcripts). */
  shownLines: number;
  fileBytes: number;
  /** True when the section shows less than the whole file. */
  cut: boolean;
  /** Why the file could not be read, if it could not. */
  problem?: string;
}

export interface ScenarioFileHash {
  file: string;
  sha256?: string;
  problem?: string;
}

export interface ReportAttachments {
  transcripts: Record<string, TranscriptView>;
  scenarioFiles: ScenarioFileHash[];
  /** Who rendered the report (the OS user), for the sign-off block. */
  renderedBy: string;
  /** Host wall-clock ISO time the report was rendered. */
  renderedAt: string;
}

const decoder = new TextDecoder('utf-8');

/** Parses transcript text; a first partial line (the file read from its middle) is dropped. */
export function parseTranscriptLines(text: string, fromMiddle: boolean): TranscriptLine[] {
  const rows = text.split('\n');
  if (fromMiddle) rows.shift();
  const lines: TranscriptLine[] = [];
  for (const row of rows) {
    const data = /^(\S+) (tx|rx) (".*")$/.exec(row);
    if (data) {
      let bytes: Buffer;
      try {
        bytes = Buffer.from(JSON.parse(data[3] as string) as string, 'latin1');
      } catch {
        continue;
      }
      lines.push({ hostWallTime: data[1] as string, direction: data[2] as 'tx' | 'rx', text: decoder.decode(bytes) });
      continue;
    }
    const mark = /^(\S+) -- (.*)$/.exec(row);
    if (mark) lines.push({ hostWallTime: mark[1] as string, direction: 'mark', text: mark[2] as string });
  }
  return lines;
}

export async function readTranscriptView(runDir: string, path: string, shownBytes = TRANSCRIPT_SHOWN_BYTES): Promise<TranscriptView> {
  const file = isAbsolute(path) ? path : join(runDir, path);
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    return { path, lines: [], shownLines: 0, fileBytes: 0, cut: false, problem: (error as NodeJS.ErrnoException).code ?? String(error) };
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - TRANSCRIPT_SHOWN_BYTES);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    let lines = parseTranscriptLines(buffer.toString('utf8'), start > 0);
    const trimmed = lines.length > TRANSCRIPT_SHOWN_LINES;
    if (trimmed) lines = lines.slice(-TRANSCRIPT_SHOWN_LINES);
    let shownLines = 0;
    for (let i = lines.length - 1, bytes = 0; i >= 0; i--, shownLines++) {
      bytes += (lines[i]?.text.length ?? 0) + 40;
      if (bytes > shownBytes) break;
    }
    return { path, lines, shownLines, fileBytes: size, cut: start > 0 || trimmed || shownLines < lines.length };
  } finally {
    await handle.close();
  }
}

async function hashFile(file: string, baseDirs: string[]): Promise<ScenarioFileHash> {
  for (const base of baseDirs) {
    const path = isAbsolute(file) ? file : join(base, file);
    try {
      // Scenario files are capped at 1 MiB by the preflight; reading one whole is fine.
      const text = await readFile(path);
      return { file, sha256: createHash('sha256').update(text).digest('hex') };
    } catch {
      continue;
    }
  }
  return { file, problem: 'not found when the report was written' };
}

function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** Reads every board's transcripts and hashes the scenario files (relative to the working directory). */
export async function loadAttachments(runDir: string, result: RunResult): Promise<ReportAttachments> {
  const transcripts: Record<string, TranscriptView> = {};
  const paths = [...new Set(result.boards.flatMap((board) => board.transcripts))];
  const shownBytes = Math.min(TRANSCRIPT_SHOWN_BYTES, Math.max(TRANSCRIPT_MIN_SHOWN_BYTES, TRANSCRIPTS_TOTAL_SHOWN_BYTES / Math.max(1, paths.length)));
  // A few at a time: a 128-board run has 256 transcripts.
  for (let i = 0; i < paths.length; i += 16) {
    const views = await Promise.all(paths.slice(i, i + 16).map((path) => readTranscriptView(runDir, path, shownBytes)));
    for (const view of views) transcripts[view.path] = view;
  }
  // The hash recorded when the run loaded the file is the one that ran; re-hashing is for older records.
  const recorded = new Map(result.scenarios.filter((s) => s.sha256 !== undefined).map((s) => [s.file, s.sha256 as string]));
  const scenarioFiles = await Promise.all(
    [...new Set(result.scenarios.map((s) => s.file))].map((file) => {
      const sha256 = recorded.get(file);
      return sha256 !== undefined ? Promise.resolve({ file, sha256 }) : hashFile(file, [process.cwd(), runDir]);
    }),
  );
  return { transcripts, scenarioFiles, renderedBy: whoAmI(), renderedAt: new Date().toISOString() };
}

/** Attachments with nothing read from disk (tests, and callers that have no run folder). */
export function emptyAttachments(result: RunResult): ReportAttachments {
  return {
    transcripts: {},
    scenarioFiles: result.scenarios.map((s) => ({ file: s.file, problem: 'not hashed' })),
    renderedBy: 'unknown',
    renderedAt: new Date().toISOString(),
  };
}
