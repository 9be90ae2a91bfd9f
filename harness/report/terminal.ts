/**
 * What a run shows on the terminal while it goes on, and the table it ends with.
 *
 * Interactive (an engineer at a desk): a live block, one line per board with its current scenario,
 * step and elapsed time, redrawn in place at most ~10 times a second; finished scenarios and failures
 * scroll above it. Non-interactive (CI logs, pipes): plain lines, one per step end, failure messages
 * indented under them, no cursor movement and no colour.
 */
import { join } from 'node:path';
import { formatDurationMs } from '../core/duration.js';
import type { BoardIdentity, MeasurementOutcome, RecordOutcome, RunEvent, RunResult, ScenarioResult, StepResult } from '../core/model.js';
import { safeField } from '../core/text.js';
import {
  allScenarios,
  countNotRun,
  countOutcomes,
  decidingStep,
  describeCounts,
  describeCurrentStep,
  formatMeasurement,
  harnessBugs,
  isUnfinished,
  keyMeasurement,
  makeVisible,
  notRunScenarios,
  oneLine,
  scenarioMessage,
  stepLabel,
  UNFINISHED_REASON,
} from './format.js';

export interface TerminalIo {
  write(text: string): void;
  /** A terminal a person watches (TTY and not CI): live block and colour. */
  interactive: boolean;
  /** Colour wanted; defaults to "NO_COLOR is unset". Never used when not interactive. */
  color?: boolean;
  /** Terminal width in characters, so live lines never wrap (a wrapped line breaks the redraw). */
  columns?: number;
  /** Terminal height in lines: the live block never grows taller (cursor-up stops at the top). */
  rows?: number;
}

export interface ProgressOptions {
  /** Host monotonic clock in ms; injectable for tests. */
  nowMs?: () => number;
}

/** Minimum time between two redraws of the live block: ~10 per second. */
const REDRAW_INTERVAL_MS = 100;
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** The live block's height when the terminal does not say its own; a rig of 128 boards gets a summary line. */
const DEFAULT_BLOCK_LINES = 20;
/** Longest message shown on the terminal: the reports hold more, the transcript everything. */
const MAX_TERMINAL_MESSAGE_CHARS = 4000;

const ANSI = {
  green: '\x1b[32m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
  /** Move the cursor to the start of the line `n` lines up. */
  up: (n: number) => `\x1b[${n}F`,
  /** Erase from the cursor to the end of the screen. */
  eraseDown: '\x1b[J',
};

interface BoardProgress {
  id: string;
  scenario?: string;
  step?: { index: number; title: string; attempt: number };
  /** Host monotonic ms when the current step (or scenario) started. */
  sinceMs?: number;
  last?: { scenario: string; outcome: RecordOutcome };
}

/**
 * Everything printed here that a board, a rig file or a scenario could have written goes through
 * `field` (one line) or `paragraph` (lines kept): raw ESC, OSC 52 clipboard writes, title changes and
 * bidi overrides must never reach the terminal (core/text.ts).
 */
function field(value: string): string {
  return safeField(value, 300);
}

function paragraph(value: string): string {
  return makeVisible(value, MAX_TERMINAL_MESSAGE_CHARS);
}

export class ProgressReporter {
  private readonly color: boolean;
  private readonly nowMs: () => number;
  private readonly boards = new Map<string, BoardProgress>();
  private drawnLines = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  /** Harness bugs reported as events, for the final summary (the record may not hold them all). */
  private readonly bugs: { board?: string; scenario?: string; message: string }[] = [];

  constructor(
    private readonly io: TerminalIo,
    options: ProgressOptions = {},
  ) {
    const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
    this.color = io.interactive && (io.color ?? !noColor);
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  onEvent(event: RunEvent): void {
    if (this.finished) return;
    switch (event.type) {
      case 'run-start':
        for (const id of event.boards) this.board(id);
        this.line(
          `qhil run ${field(event.runId)}: ${plural(event.scenarios.length, 'scenario')} on ${plural(event.boards.length, 'board')}`,
        );
        break;
      case 'board-ready':
        this.board(event.board);
        this.line(`[${field(event.board)}] ready: ${describeIdentity(event.identity)}${describePorts(event.ports)}`);
        break;
      case 'reference':
        this.line(
          `reference ${field(event.record.servers.join(', '))}: host clock offset ${signed(event.record.offsetMs)}ms ` +
            `±${event.record.uncertaintyMs.toFixed(1)}ms`,
        );
        break;
      case 'scenario-start': {
        const board = this.board(event.board);
        board.scenario = event.scenario;
        board.step = undefined;
        board.sinceMs = this.nowMs();
        break;
      }
      case 'step-start': {
        const board = this.board(event.board);
        board.scenario = event.scenario;
        board.step = { index: event.index, title: event.title, attempt: 1 };
        board.sinceMs = this.nowMs();
        break;
      }
      case 'step-retry': {
        const board = this.board(event.board);
        if (board.step) board.step.attempt = event.attempt;
        this.line(
          `[${field(event.board)}] ${field(event.scenario)}  #${event.index + 1} retry, attempt ${event.attempt}: ${oneLine(event.message)}`,
          'yellow',
        );
        break;
      }
      case 'step-end':
        // Interactive users see steps in the live block; logs need one line per step.
        if (!this.io.interactive || event.result.outcome === 'FAIL' || event.result.outcome === 'ERROR') {
          this.lines(this.stepEndLines(event.board, event.scenario, event.result));
        }
        break;
      case 'scenario-end': {
        const board = this.board(event.board);
        board.scenario = undefined;
        board.step = undefined;
        board.last = { scenario: event.result.scenario, outcome: event.result.outcome };
        this.lines(this.scenarioEndLines(event.result));
        break;
      }
      case 'log': {
        const who = event.board ? `[${field(event.board)}] ` : '';
        this.line(`${who}${event.level}: ${paragraph(event.message)}`, event.level === 'info' ? undefined : event.level === 'warn' ? 'yellow' : 'red');
        break;
      }
      case 'harness-bug': {
        this.bugs.push({ board: event.board, scenario: event.scenario, message: event.message });
        const who = event.board ? `[${field(event.board)}] ` : '';
        this.line(`${who}qhil itself failed (a bug, please report it; the stack is in events.jsonl): ${paragraph(event.message)}`, 'red');
        break;
      }
      case 'run-end':
        break;
    }
    if (this.io.interactive) this.ensureTimer();
  }

  /** Stops the live block and prints the final table; `reportDir` is where the run's reports are. */
  finish(result: RunResult, reportDir?: string): void {
    this.stopTimer();
    this.eraseBlock();
    this.finished = true;
    this.io.write(this.finalTable(result, reportDir));
  }

  // -------------------------------------------------------------------------------------------
  // Plain lines (both modes: interactive prints them above the live block).

  private stepEndLines(board: string, scenario: string, step: StepResult): string[] {
    const retries = step.attempts > 1 ? ` (${step.attempts} attempts)` : '';
    const lines = [
      `[${field(board)}] ${field(scenario)}  ${field(stepLabel(step))} ... ${this.paintOutcome(step.outcome)} ${formatDurationMs(step.durationMs)}${retries}`,
    ];
    for (const m of step.measurements) lines.push(`    ${field(formatMeasurement(m))} ${this.paintOutcome(m.outcome)}`);
    if ((step.outcome === 'FAIL' || step.outcome === 'ERROR') && step.message) {
      lines.push(...indent(paragraph(step.message), '    '));
    }
    return lines;
  }

  private scenarioEndLines(result: ScenarioResult): string[] {
    const lines = [
      `[${field(result.board)}] ${field(result.scenario)}  ${this.paintOutcome(result.outcome)} ${formatDurationMs(result.durationMs)}`,
    ];
    // A scenario can end badly outside any step (board unavailable, scenario deadline); say why.
    if (result.message && result.outcome !== 'PASS' && !result.steps.some((s) => s.message === result.message)) {
      lines.push(...indent(paragraph(result.message), '    '));
    }
    return lines;
  }

  private finalTable(result: RunResult, reportDir?: string): string {
    const scenarios = allScenarios(result);
    const rows: { cells: string[]; outcome?: RecordOutcome }[] = [];
    for (const board of result.boards) {
      for (const s of board.scenarios) {
        const key = keyMeasurement(s);
        rows.push({
          cells: [field(board.id), field(s.scenario), s.outcome, formatDurationMs(s.durationMs), key ? field(formatMeasurement(key, { parts: false })) : ''],
          outcome: s.outcome,
        });
      }
      for (const missing of notRunScenarios(result, board)) rows.push({ cells: [field(board.id), field(missing.name), 'not run', '', ''] });
    }
    const header = ['BOARD', 'SCENARIO', 'OUTCOME', 'DURATION', 'KEY MEASUREMENT'];
    const widths = header.map((h, column) => Math.max(h.length, ...rows.map((row) => (row.cells[column] ?? '').length)));
    const pad = (cells: string[], outcome?: RecordOutcome): string =>
      cells
        .map((cell, column) => {
          const padded = column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0);
          return column === 2 && outcome ? this.paintOutcome(outcome, padded) : padded;
        })
        .join('  ')
        .trimEnd();

    const out: string[] = [''];
    if (rows.length > 0) {
      out.push(this.paint(pad(header), 'bold'));
      for (const row of rows) out.push(pad(row.cells, row.outcome));
      out.push('');
    }
    const counts = countOutcomes(scenarios);
    const duration = result.durationMs !== undefined ? `, ${formatDurationMs(result.durationMs)}` : '';
    const aborted = result.aborted ? ' (run aborted: results incomplete)' : '';
    const unfinished = isUnfinished(result);
    // An unfinished record is never shown as its finished scenarios' verdict: it is no verdict at all.
    const verdict = unfinished ? this.paint('UNFINISHED', 'yellow') : this.paintOutcome(result.outcome);
    out.push(
      `${verdict}${aborted}: ${describeCounts(counts, countNotRun(result))} ` +
        `(${plural(result.boards.length, 'board')}${duration})`,
    );
    if (unfinished) out.push(`    ${UNFINISHED_REASON}; this is not a pass`);

    const problems = scenarios.filter((s) => s.outcome === 'FAIL' || s.outcome === 'ERROR' || s.outcome === 'RUNNING');
    for (const scenario of problems) {
      const step = decidingStep(scenario);
      const current = scenario.outcome === 'RUNNING' ? describeCurrentStep(scenario) : undefined;
      const where = step ? `  ${field(stepLabel(step))}` : current ? `  at ${field(current)}` : '';
      out.push('', `${this.paintOutcome(scenario.outcome)} ${field(scenario.board)} / ${field(scenario.scenario)}${where}`);
      const message = scenarioMessage(scenario);
      if (message) out.push(...indent(paragraph(message), '    '));
      const board = result.boards.find((b) => b.id === scenario.board);
      for (const transcript of board?.transcripts ?? []) {
        out.push(`    transcript: ${field(reportDir ? join(reportDir, transcript) : transcript)}`);
      }
    }

    const bugs = [...harnessBugs(result)];
    for (const bug of this.bugs) {
      if (!bugs.some((known) => known.message === bug.message)) bugs.push({ board: bug.board ?? '', scenario: bug.scenario ?? '', message: bug.message });
    }
    if (bugs.length > 0) {
      out.push('', this.paint('qhil itself failed: please report (a bug in qhil, not the board or the rig; the stack is in events.jsonl)', 'red'));
      for (const bug of bugs) {
        const where = [bug.board, bug.scenario].filter((part) => part !== '').map(field).join(' / ');
        out.push(`  ${where ? `${where}: ` : ''}${oneLine(bug.message, 500)}`);
      }
    }
    if (reportDir) out.push('', `Reports: ${field(reportDir)}`);
    return `${out.join('\n')}\n`;
  }

  // -------------------------------------------------------------------------------------------
  // Output plumbing.

  private board(id: string): BoardProgress {
    let board = this.boards.get(id);
    if (!board) {
      board = { id };
      this.boards.set(id, board);
    }
    return board;
  }

  private line(text: string, colour?: 'yellow' | 'red'): void {
    this.lines([colour ? this.paint(text, colour) : text]);
  }

  private lines(lines: string[]): void {
    if (!this.io.interactive) {
      this.io.write(`${lines.join('\n')}\n`);
      return;
    }
    // Permanent lines go above the live block: erase it, print, draw it again below.
    this.io.write(`${this.eraseSequence()}${lines.join('\n')}\n${this.blockText()}`);
  }

  private ensureTimer(): void {
    if (this.timer || this.finished) return;
    this.redraw();
    this.timer = setInterval(() => this.redraw(), REDRAW_INTERVAL_MS);
    // The live block must never keep the process alive on its own.
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private redraw(): void {
    this.frame = (this.frame + 1) % SPINNER.length;
    this.io.write(`${this.eraseSequence()}${this.blockText()}`);
  }

  private eraseBlock(): void {
    if (this.io.interactive) this.io.write(this.eraseSequence());
  }

  private eraseSequence(): string {
    const text = this.drawnLines > 0 ? `${ANSI.up(this.drawnLines)}${ANSI.eraseDown}` : '';
    this.drawnLines = 0;
    return text;
  }

  private blockText(): string {
    // A terminal that reports no width (0, as under `script`) gets a sensible one.
    const width = Math.max(20, (this.io.columns || 100) - 1);
    const now = this.nowMs();
    // Taller than the terminal, the block could not be erased; and every line printed above it redraws
    // it, so its cost per event must not grow with the rig: busy boards first, the rest counted.
    const maxLines = Math.max(3, this.io.rows ? this.io.rows - 2 : DEFAULT_BLOCK_LINES);
    let shown = [...this.boards.values()];
    let rest = '';
    if (shown.length > maxLines) {
      const busy = shown.filter((board) => board.scenario);
      const done = shown.filter((board) => !board.scenario && board.last).length;
      const waiting = shown.length - busy.length - done;
      shown = busy.slice(0, maxLines - 1);
      const hiddenBusy = busy.length - shown.length;
      rest = `  … ${shown.length === 0 ? '' : 'and '}${plural(this.boards.size - shown.length, 'more board')}: ${hiddenBusy} running, ${done} done, ${waiting} waiting`;
    }
    const lines = shown.map((board) => {
      let text: string;
      if (board.scenario) {
        const elapsed = board.sinceMs !== undefined ? formatDurationMs(now - board.sinceMs) : '';
        const step = board.step ? `  #${board.step.index + 1} ${board.step.title}` : '';
        const attempt = board.step && board.step.attempt > 1 ? ` (attempt ${board.step.attempt})` : '';
        text = `${SPINNER[this.frame] ?? '*'} [${board.id}] ${board.scenario}${step}${attempt}  ${elapsed}`;
      } else if (board.last) {
        text = `  [${board.id}] idle, last: ${board.last.scenario} ${board.last.outcome}`;
      } else {
        text = `  [${board.id}] waiting`;
      }
      return this.paint(truncate(field(text), width), 'dim');
    });
    if (rest) lines.push(this.paint(truncate(rest, width), 'dim'));
    this.drawnLines = lines.length;
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  }

  private paint(text: string, style: 'green' | 'red' | 'yellow' | 'bold' | 'dim'): string {
    return this.color ? `${ANSI[style]}${text}${ANSI.reset}` : text;
  }

  private paintOutcome(outcome: RecordOutcome | MeasurementOutcome, text: string = outcome): string {
    switch (outcome) {
      case 'PASS':
        return this.paint(text, 'green');
      case 'FAIL':
        return this.paint(text, 'red');
      case 'ERROR':
      case 'MARGINAL':
      case 'RUNNING':
        return this.paint(text, 'yellow');
      default:
        return text;
    }
  }
}

function describeIdentity(identity: BoardIdentity | undefined): string {
  if (!identity) return 'identity unknown';
  // The board wrote these: a hostile one could put ESC sequences or a fake second line in its firmware name.
  const parts = [field(identity.model ?? 'model unknown'), `firmware ${field(identity.firmware ?? 'unknown')}`];
  if (identity.quecpython) parts.push(`QuecPython ${field(identity.quecpython)}`);
  return parts.join(', ');
}

function describePorts(ports: Partial<Record<string, string>>): string {
  const entries = Object.entries(ports).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return entries.length > 0 ? ` (${entries.map(([via, port]) => `${field(via)} ${field(port)}`).join(', ')})` : '';
}

function indent(text: string, prefix: string): string[] {
  return text.split(/\r?\n/).map((line) => `${prefix}${line}`);
}

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
