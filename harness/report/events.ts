/**
 * events.jsonl: every run event, one JSON object per line, written and fsynced before append()
 * returns, so a crash, a kill -9 or a power cut on the bench loses nothing already reported.
 * Synchronous on purpose: events come a few per second, and an ordered, durable log is worth more
 * than the microseconds.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../core/model.js';
import { writeFailure } from './io-error.js';

export const EVENTS_JSONL = 'events.jsonl';

export class EventLog {
  readonly path: string;
  private fd: number | undefined;

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

  /** Appends one event; a failed write (ENOSPC) is an InfrastructureError naming the file. */
  append(event: RunEvent): void {
    if (this.fd === undefined) throw new Error(`${this.path}: event log already closed`);
    const bytes = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8');
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
      fsyncSync(this.fd);
    } catch (error) {
      throw writeFailure('append to', this.path, error);
    }
  }

  /** Closes the file; safe to call twice (the runner closes in a finally and on signals). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}
