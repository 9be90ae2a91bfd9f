/**
 * events.jsonl: every run event, one JSON object per line, the record a crash cannot lose.
 *
 * append() writes the line synchronously before it returns, so the kernel holds it: a crash or a
 * kill -9 of qhil loses nothing already reported. Making it durable against a power cut (fsync) is
 * group-committed on libuv's thread pool: one fsync in flight at a time covers every line written
 * before it began, so the main thread never waits on the disk and the cost per event stays the same
 * whatever the rig's size. A power cut can lose at most the lines of the last fsync's duration
 * (milliseconds); close() syncs what is left before it returns.
 */
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { BoardResult, RunEvent, RunResult, ScenarioResult } from '../core/model.js';
import { writeFailure } from './io-error.js';

export const EVENTS_JSONL = 'events.jsonl';

export class EventLog {
  readonly path: string;
  private fd: number | undefined;
  /** An fsync is running on the thread pool. */
  private syncing = false;
  /** Lines were written since the running fsync began: another one is needed. */
  private dirty = false;
  /** close() came while an fsync ran: the descriptor is closed when it ends, never under it. */
  private closeWhenSynced: number | undefined;
  /** A background fsync that failed; the next append or close reports it. */
  private failure: unknown;

  /**
   * Opens (creating the folder if needed) `<runDir>/events.jsonl` for appending; a folder that cannot
   * be written (read-only, full) is an InfrastructureError saying so.
   */
  constructor(runDir: string) {
    this.path = join(runDir, EVENTS_JSONL);
    try {
      mkdirSync(runDir, { recursive: true });
    } catch (error) {
      throw writeFailure('create', this.path, error, runDir);
    }
    try {
      this.fd = openSync(this.path, 'a');
    } catch (error) {
      throw writeFailure('create', this.path, error);
    }
  }

  /** Appends one event; a failed write (ENOSPC), or an earlier failed sync, is an InfrastructureError naming the file. */
  append(event: RunEvent): void {
    if (this.fd === undefined) throw new Error(`${this.path}: event log already closed`);
    this.throwFailure();
    const bytes = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8');
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
    } catch (error) {
      throw writeFailure('append to', this.path, error);
    }
    this.dirty = true;
    this.syncSoon();
  }

  /** Syncs and closes the file; safe to call twice (the runner closes in a finally and on signals). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      if (this.dirty || this.syncing) fsyncSync(fd);
    } catch (error) {
      this.failure ??= error;
    } finally {
      if (this.syncing) this.closeWhenSynced = fd;
      else closeSync(fd);
    }
    this.throwFailure();
  }

  private syncSoon(): void {
    if (this.syncing || this.fd === undefined) return;
    const fd = this.fd;
    this.syncing = true;
    this.dirty = false;
    fsync(fd, (error) => {
      this.syncing = false;
      if (error) this.failure ??= error;
      if (this.closeWhenSynced !== undefined) {
        closeSync(this.closeWhenSynced);
        this.closeWhenSynced = undefined;
      } else if (this.dirty) {
        this.syncSoon();
      }
    });
  }

  private throwFailure(): void {
    if (this.failure === undefined) return;
    const failure = this.failure;
    this.failure = undefined;
    throw writeFailure('sync', this.path, failure);
  }
}

/** Larger logs are not folded in: the snapshot is shown as it stands. */
const MAX_FOLDED_BYTES = 256 * 1024 * 1024;

/**
 * A record left unfinished (RUNNING) with what its events.jsonl says happened after its snapshot
 * was written: finished steps and scenarios, the step under way, identities and reference answers.
 * The run's own outcome stays RUNNING: a record rebuilt from events is never a verdict. A line torn
 * by a kill is skipped. Returns the record unchanged when the log is missing or too large.
 */
export function foldEvents(result: RunResult, runDir: string): RunResult {
  const file = join(runDir, EVENTS_JSONL);
  let text: string;
  try {
    if (statSync(file).size > MAX_FOLDED_BYTES) return result;
    text = readFileSync(file, 'utf8');
  } catch {
    return result;
  }
  const folded: RunResult = structuredClone(result);
  const boardOf = (id: string): BoardResult => {
    let board = folded.boards.find((b) => b.id === id);
    if (!board) {
      board = { id, ports: {}, transcripts: [], scenarios: [] };
      folded.boards.push(board);
    }
    return board;
  };
  const scenarioOf = (board: BoardResult, name: string, startedAt: string): ScenarioResult => {
    let scenario = board.scenarios.find((s) => s.scenario === name);
    if (!scenario) {
      const file = folded.scenarios.find((s) => s.name === name)?.file ?? '';
      scenario = { scenario: name, file, board: board.id, outcome: 'RUNNING', startedAt, durationMs: 0, steps: [] };
      board.scenarios.push(scenario);
    }
    return scenario;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let event: RunEvent;
    try {
      event = JSON.parse(line) as RunEvent;
    } catch {
      continue;
    }
    switch (event.type) {
      case 'board-ready': {
        const board = boardOf(event.board);
        board.identity ??= event.identity;
        if (Object.keys(board.ports).length === 0) board.ports = event.ports;
        break;
      }
      case 'reference':
        if (!folded.references.some((r) => r.measuredAt === event.record.measuredAt)) folded.references.push(event.record);
        break;
      case 'scenario-start':
        scenarioOf(boardOf(event.board), event.scenario, event.at);
        break;
      case 'step-start': {
        const scenario = scenarioOf(boardOf(event.board), event.scenario, event.at);
        if (scenario.outcome === 'RUNNING') scenario.current = { index: event.index, title: event.title, startedAt: event.at };
        break;
      }
      case 'step-end': {
        const scenario = scenarioOf(boardOf(event.board), event.scenario, event.at);
        if (!scenario.steps.some((s) => s.index === event.result.index)) scenario.steps.push(event.result);
        if (scenario.current?.index === event.result.index) scenario.current = undefined;
        break;
      }
      case 'scenario-end': {
        const board = boardOf(event.board);
        const index = board.scenarios.findIndex((s) => s.scenario === event.result.scenario);
        if (index >= 0) board.scenarios[index] = event.result;
        else board.scenarios.push(event.result);
        break;
      }
      default:
        break;
    }
  }
  return folded;
}
