/**
 * `qhil report <run-dir...> [--out <dir>] [--pdf] [--browser <path>]`: re-render junit.xml, summary.md
 * and report.html (and report.pdf) from result.json (after a harness upgrade, or when a run was killed
 * before it wrote them), or merge several runs into one. `qhil report history <reports-dir>` writes
 * history.html over every run folder under it (a run folder named `history` is given as `./history`).
 * Exit 0 when the reports were written; 3 when they were written from an unfinished record (a run
 * left RUNNING by a kill or a full disk): the report says UNFINISHED, and a script must not take it
 * for a verdict, let alone a pass. The report writers load when it runs (report-action.ts), not for
 * its --help.
 */
import type { Command } from 'commander';
import type { CliCommand, CliIo, ExitCode } from './command.js';

export interface ReportFlags {
  out?: string;
  pdf?: boolean;
  browser?: string;
}

export interface HistoryFlags {
  out?: string;
}

export const reportCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit: (code: ExitCode) => void): void {
    const command = program
      .command('report')
      .description('re-render junit.xml, summary.md and report.html from result.json, or merge several runs into one report')
      .argument('<run-dir...>', 'run folders (reports/<run-id>), each holding a result.json')
      .option('--out <dir>', 'write the report here (required to merge several runs); default: in place')
      .option('--pdf', 'also print report.pdf (A4, sign-off) with Chromium')
      .option('--browser <path>', 'Chromium to print the PDF with (default $QHIL_BROWSER, else /usr/bin/chromium)')
      .action(async (runDirs: string[], flags: ReportFlags) => {
        setExit(await (await import('./report-action.js')).report(runDirs, flags, io));
      });
    command
      .command('history')
      .description('write history.html over every run folder under a reports directory')
      .argument('<reports-dir>', 'the folder holding run folders (reports/)')
      .option('--out <file>', 'where to write it; default <reports-dir>/history.html')
      .action(async (reportsDir: string, flags: HistoryFlags) => {
        setExit(await (await import('./report-action.js')).history(reportsDir, flags, io));
      });
  },
};
