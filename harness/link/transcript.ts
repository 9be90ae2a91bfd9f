import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LinkClosedError } from '../core/errors.js';
import type { Link } from './link.js';

export type Direction = 'tx' | 'rx';

/**
 * Records every byte that crosses a link, both ways, with the host wall-clock time it was seen, one
 * chunk a line: `2026-11-21T10:00:00.123Z rx "OK\r\n"`. Bytes are written with a synchronous
 * write as they pass, so a crash loses nothing. The tap sits on the link, below every channel, so
 * the transcript is complete even for bytes no step asked for.
 */
export class TranscriptTap implements Link {
  private fd: number | undefined;

  constructor(
    private readonly inner: Link,
    readonly path: string,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a');
    this.record('--', `open ${inner.address}`);
    inner.onData((bytes) => this.record('rx', bytes));
    inner.onClose((error) => {
      this.record('--', error ? `closed: ${error.message}` : 'closed');
      this.closeFile();
    });
  }

  get address(): string {
    return this.inner.address;
  }

  get closed(): boolean {
    return this.inner.closed;
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.record('tx', Buffer.from(bytes));
    return this.inner.write(bytes);
  }

  onData(listener: (bytes: Buffer) => void): () => void {
    return this.inner.onData(listener);
  }

  onClose(listener: (error: LinkClosedError | undefined) => void): () => void {
    return this.inner.onClose(listener);
  }

  async close(): Promise<void> {
    await this.inner.close();
    this.closeFile();
  }

  private record(direction: Direction | '--', payload: Buffer | string): void {
    if (this.fd === undefined) return;
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload.toString('latin1'));
    writeSync(this.fd, `${new Date().toISOString()} ${direction} ${text}\n`);
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface TranscriptEntry {
  hostWallTime: string;
  direction: Direction;
  bytes: Buffer;
}

/** Reads a transcript file back: the data lines, in order (open/close markers are skipped). */
export function parseTranscript(text: string): TranscriptEntry[] {
  const entries: TranscriptEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\S+) (tx|rx) (".*")$/.exec(line);
    if (!match) continue;
    const [, hostWallTime, direction, json] = match as unknown as [string, string, Direction, string];
    entries.push({ hostWallTime, direction, bytes: Buffer.from(JSON.parse(json) as string, 'latin1') });
  }
  return entries;
}
