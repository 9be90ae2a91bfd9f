/**
 * Writes a run's report files into its folder. Rendering is pure (format-specific modules turn a
 * RunResult into text); this module only decides file names and writes them atomically, so a
 * reader never sees half a junit.xml.
 */
import { join } from 'node:path';
import type { RunResult } from '../core/model.js';
import { writeFileAtomic, writeResultJson } from './json.js';
import { JUNIT_XML, renderJunitXml } from './junit.js';
import { renderSummaryMarkdown, SUMMARY_MD, type SummaryOptions } from './markdown.js';

/** Writes junit.xml, summary.md and report.html (not result.json) from `result`; returns the paths written. */
export async function writeRenderedReports(runDir: string, result: RunResult, options: SummaryOptions = {}): Promise<string[]> {
  const junit = join(runDir, JUNIT_XML);
  const summary = join(runDir, SUMMARY_MD);
  // Render all three before writing any, so a rendering bug leaves the old set intact.
  const junitText = renderJunitXml(result);
  const summaryText = renderSummaryMarkdown(result, options);
  // Loaded when a report is written, not when the CLI starts: start-up time matters to every command.
  const { loadAttachments } = await import('./html/attachments.js');
  const { renderReportHtml, REPORT_HTML } = await import('./html/report.js');
  const html = join(runDir, REPORT_HTML);
  const htmlText = renderReportHtml(result, await loadAttachments(runDir, result));
  await writeFileAtomic(junit, junitText);
  await writeFileAtomic(summary, summaryText);
  await writeFileAtomic(html, htmlText);
  return [junit, summary, html];
}

/** Writes result.json, junit.xml, summary.md and report.html into `runDir`; returns the paths written. */
export async function writeRunReports(runDir: string, result: RunResult, options: SummaryOptions = {}): Promise<string[]> {
  const json = await writeResultJson(runDir, result);
  return [json, ...(await writeRenderedReports(runDir, result, options))];
}
