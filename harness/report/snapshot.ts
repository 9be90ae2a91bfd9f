/**
 * result.json while a run goes on: a snapshot of the record, RUNNING until the run is finished.
 *
 * events.jsonl is the record a crash cannot lose (every event appended before it is shown); the
 * snapshot follows it. Rendering the whole record costs time in proportion to the rig, so rewriting
 * it at every step of every board made a rig's cost grow with the square of its size. So a small record
 * (under IMMEDIATE_BYTES: about five boards) is rewritten at once, synchronously, as before: result.json
 * holds a step before its event is written. A larger one is coalesced with every other request of the
 * same turn of the event loop, and its share of the main thread is capped (WRITE_SHARE): a 128-board
 * rig is rewritten every few hundred ms. A killed large run's snapshot may lag its events by that
 * much; `qhil report` folds the events in (report/events.ts, foldEvents), so nothing finished is lost.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { RunResult } from '../core/model.js';
import { renderResultJson } from './json.js';

/** At most this share of the main thread goes to rewriting the snapshot. */
const WRITE_SHARE = 0.05;
/** However cheap the last write, the snapshot is at most this far behind the record. */
const MAX_LAG_MS = 2000;
/** A record smaller than this (about five boards) is rewritten at every request, in well under a millisecond. */
const IMMEDIATE_BYTES = 32 * 1024;

export class ResultSnapshot {
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** Host monotonic ms before which the next write may not start. */
  private notBeforeMs = 0;
  private closed = false;
  /** The last write's cost, host monotonic ms: for benches and tests. */
  lastWriteMs = 0;
  lastBytes = 0;
  writes = 0;

  constructor(
    private readonly file: string,
    private readonly record: () => RunResult,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The record changed: write it now if it is small, else soon (this turn's other changes go with it). */
  request(): void {
    if (this.closed) return;
    if (this.lastBytes < IMMEDIATE_BYTES) {
      try {
        this.writeNow();
      } catch (error) {
        this.onError(error);
      }
      return;
    }
    if (this.timer) return;
    const waitMs = this.notBeforeMs - performance.now();
    if (waitMs <= 0) {
      this.timer = setImmediate(() => this.flush());
    } else {
      this.timer = setTimeout(() => this.flush(), Math.min(waitMs, MAX_LAG_MS));
    }
    // A pending snapshot must never keep a finished process alive on its own.
    this.timer.unref();
  }

  /** Writes at once, synchronously (a process about to exit); `record` overrides what is written. */
  writeNow(record: RunResult = this.record()): void {
    this.cancel();
    const startMs = performance.now();
    // A temporary file renamed over it: a reader never sees half a record.
    const text = renderResultJson(record);
    writeFileSync(`${this.file}.tmp`, text);
    renameSync(`${this.file}.tmp`, this.file);
    this.lastBytes = text.length;
    const endMs = performance.now();
    this.lastWriteMs = endMs - startMs;
    this.writes++;
    this.notBeforeMs = endMs + (this.lastWriteMs * (1 - WRITE_SHARE)) / WRITE_SHARE;
  }

  /** No more snapshots: the final record is written by the report writer. */
  close(): void {
    this.closed = true;
    this.cancel();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.closed) return;
    try {
      this.writeNow();
    } catch (error) {
      this.onError(error);
    }
  }

  private cancel(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    this.timer = undefined;
  }
}
