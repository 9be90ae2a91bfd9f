/** What `qhil report` does (report.ts declares it); also the PDF `qhil run --pdf` prints. */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { errorMessage, InfrastructureError, InputError } from '../core/errors.js';
import type { RunResult } from '../core/model.js';
import { isUnfinished } from '../report/format.js';
import { mergeRunResults, type RunInput } from '../report/merge.js';
import { readResultJson, RESULT_JSON } from '../report/json.js';
import { writeRenderedReports, writeRunReports } from '../report/write.js';
import { ExitCode, type CliIo } from './command.js';
import type { HistoryFlags, ReportFlags } from './report.js';

/**
 * Writes report.pdf beside report.html. The browser module is imported only here, so commands that
 * print no PDF never load playwright-core. No browser: one line saying why, and no change to the exit
 * code (the verdict does not depend on the PDF); returns the path written, if any.
 */
export async function writePdfOrSay(runDir: string, browser: string | undefined, io: CliIo): Promise<string | undefined> {
  const { writeReportPdf, BrowserUnavailableError } = await import('../report/pdf.js');
  try {
    return await writeReportPdf(runDir, { browser });
  } catch (error) {
    // After the verdict, a PDF that cannot be printed (no browser, a hung one, a full disk) is said, not fatal.
    const why = error instanceof BrowserUnavailableError ? error.message : `printing failed: ${errorMessage(error).split('\n')[0]}`;
    io.stderr(`qhil: no report.pdf: ${why}\n`);
    return undefined;
  }
}

export async function report(args: string[], flags: ReportFlags, io: CliIo): Promise<ExitCode> {
  // A path to result.json itself is accepted too: it is what tab completion tends to give.
  const runDirs = args.map((arg) => (basename(arg) === RESULT_JSON ? dirname(arg) : arg));
  if (runDirs.length > 1 && flags.out === undefined) {
    io.stderr('qhil report: --out <dir> is required to merge several runs (the inputs are left untouched)\n');
    return ExitCode.BadInput;
  }
  if (flags.out !== undefined && runDirs.length > 1) {
    const out = resolve(flags.out);
    // The merged result.json would overwrite that run's own record.
    const clash = runDirs.find((dir) => resolve(dir) === out);
    if (clash !== undefined) {
      io.stderr(`qhil report: --out ${flags.out} is one of the runs being merged; choose another folder\n`);
      return ExitCode.BadInput;
    }
  }

  const inputs: RunInput[] = [];
  const problems: string[] = [];
  for (const runDir of runDirs) {
    try {
      inputs.push({ runDir, result: await readRun(runDir) });
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      problems.push(error.message);
    }
  }
  if (problems.length > 0) {
    for (const problem of problems) io.stderr(`qhil report: ${problem}\n`);
    return ExitCode.BadInput;
  }

  let written: string[];
  try {
    written = await writeReports(inputs, flags.out);
  } catch (error) {
    if (!(error instanceof InfrastructureError)) throw error;
    // A read-only or full output folder: the rig's problem, said plainly with the path.
    io.stderr(`qhil report: ${errorMessage(error)}\n`);
    return ExitCode.Infrastructure;
  }
  for (const path of written) io.stdout(`wrote ${path}\n`);
  if (flags.pdf) {
    const pdf = await writePdfOrSay(flags.out ?? runDirs[0] ?? '.', flags.browser, io);
    if (pdf) io.stdout(`wrote ${pdf}\n`);
  }
  const unfinished = inputs.filter((input) => isUnfinished(input.result));
  for (const input of unfinished) {
    io.stderr(
      `qhil report: ${join(input.runDir, RESULT_JSON)}: the run did not finish (its record was left RUNNING: ` +
        'process killed, disk full, or stopped twice); the report says UNFINISHED and is not a verdict\n',
    );
  }
  return unfinished.length > 0 ? ExitCode.Infrastructure : ExitCode.Ok;
}

export async function history(reportsDir: string, flags: HistoryFlags, io: CliIo): Promise<ExitCode> {
  const isDir = await stat(reportsDir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) {
    io.stderr(`qhil report history: ${reportsDir}: no such directory\n`);
    return ExitCode.BadInput;
  }
  const { writeHistory } = await import('../report/history.js');
  try {
    const { path, history: read } = await writeHistory(reportsDir, flags.out);
    io.stdout(`wrote ${path} (${read.runs} runs, ${read.series.length} board × scenario series)\n`);
    if (read.skipped.length > 0) io.stderr(`qhil report history: ${read.skipped.length} folders not read (listed in the page)\n`);
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof InputError) {
      io.stderr(`qhil report history: ${error.message}\n`);
      return ExitCode.BadInput;
    }
    if (!(error instanceof InfrastructureError)) throw error;
    io.stderr(`qhil report history: ${errorMessage(error)}\n`);
    return ExitCode.Infrastructure;
  }
}

async function readRun(runDir: string): Promise<RunResult> {
  const isDir = await stat(runDir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new InputError(`${runDir}: not a run folder (no such directory)`);
  return readResultJson(join(runDir, RESULT_JSON));
}

async function writeReports(inputs: RunInput[], out: string | undefined): Promise<string[]> {
  const only = inputs.length === 1 ? inputs[0] : undefined;
  if (only && (out === undefined || resolve(out) === resolve(only.runDir))) {
    // In place: result.json is the record and stays as the run wrote it.
    return writeRenderedReports(only.runDir, only.result);
  }
  if (out === undefined) throw new Error('internal: several runs and no output folder');
  const merged = mergeRunResults(inputs, out);
  return writeRunReports(out, merged, { parts: inputs.map((input) => input.result) });
}
