/** The report layer's public API: events -> events.jsonl; RunResult -> result.json, junit.xml, summary.md, report.html; live terminal output. */
export { EventLog, EVENTS_JSONL } from './events.js';
export { readResultJson, parseResultJson, renderResultJson, writeResultJson, writeFileAtomic, RESULT_JSON } from './json.js';
export { renderJunitXml, JUNIT_XML } from './junit.js';
export { renderSummaryMarkdown, SUMMARY_MD, type SummaryOptions } from './markdown.js';
export { mergeRunResults, type RunInput } from './merge.js';
export { ProgressReporter, type ProgressOptions, type TerminalIo } from './terminal.js';
export { writeRenderedReports, writeRunReports } from './write.js';
export { formatMeasurement, formatMeasurementLimit, formatMeasurementValue, isUnfinished, UNFINISHED_REASON } from './format.js';
export { describeIoError, writeFailure } from './io-error.js';
