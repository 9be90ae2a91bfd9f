/**
 * events.jsonl: every run event, one JSON object per line, written and fsynced before append()
 * returns, so a crash, a kill -9 or a power cut on the bench loses nothing already reported.
 * Synchronous on purpose: events come a few per second, and an ordered, durable log is worth more
 * than the microseconds.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent } from '../core/model.js';

export const EVENTS_JSONL = 'events.jsonl';

export class EventLog {
  readonly path: string;
  private fd: number | undefined;

  /** Opens (creating the folder if needed) `<runDir>/events.jsonl` for appending. */
  constructor(runDir: string) {
    mkdirSync(runDir, { recursive: true });
    this.path = join(runDir, EVENTS_JSONL);
    this.fd = openSync(this.path, 'a');
  }

  append(event: RunEvent): void {
    if (this.fd === undefined) throw new Error(`${this.path}: event log already closed`);
    const bytes = Buffer.from(`${JSON.stringify(event)}\n`, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
    fsyncSync(this.fd);
  }

  /** Closes the file; safe to call twice (the runner closes in a finally and on signals). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}
