import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LinkClosedError } from '../core/errors.js';
import type { Link } from './link.js';

export type Direction = 'tx' | 'rx';

/** 64 MiB: hours of a chatty board, yet a flood (seen: 714 MB in 20 s) cannot fill the disk. */
export const DEFAULT_TRANSCRIPT_MAX_BYTES = 64 * 1024 * 1024;

export interface TranscriptTapOptions {
  /**
   * Cap on the data lines kept in the file, in bytes of the file. Past it, bytes are counted per
   * direction and the count is written at close; the few marker lines (`--`) may go a little over.
   */
  maxBytes?: number;
}

/**
 * Records every byte that crosses a link, both ways, with the host wall-clock time it was seen, one
 * chunk a line: `2026-11-21T10:00:00.123Z rx "OK\r\n"`. Bytes are written with a synchronous
 * write as they pass, so a crash loses nothing. The tap sits on the link, below every channel, so
 * the transcript is complete even for bytes no step asked for, up to its cap: only the file is
 * capped, every byte still reaches the link's listeners.
 */
export class TranscriptTap implements Link {
  private fd: number | undefined;
  private readonly maxBytes: number;
  private fileBytes = 0;
  private capped = false;
  private readonly droppedBytes: Record<Direction, number> = { tx: 0, rx: 0 };

  constructor(
    private readonly inner: Link,
    readonly path: string,
    options: TranscriptTapOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_TRANSCRIPT_MAX_BYTES;
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a');
    this.mark(`open ${inner.address}`);
    inner.onData((bytes) => this.record('rx', bytes));
    inner.onClose((error) => this.closeFile(error ? `closed: ${error.message}` : 'closed'));
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
    this.closeFile('closed');
  }

  /** Bytes seen but not kept since the cap was reached, per direction. */
  get dropped(): Readonly<Record<Direction, number>> {
    return this.droppedBytes;
  }

  private record(direction: Direction, bytes: Buffer): void {
    if (this.fd === undefined) return;
    if (!this.capped) {
      const line = `${new Date().toISOString()} ${direction} ${JSON.stringify(bytes.toString('latin1'))}\n`;
      const lineBytes = Buffer.byteLength(line);
      if (this.fileBytes + lineBytes <= this.maxBytes) {
        this.append(line, lineBytes);
        return;
      }
      this.capped = true;
      this.mark(`transcript cap of ${this.maxBytes} bytes reached: from now on bytes are counted, not kept`);
    }
    this.droppedBytes[direction] += bytes.length;
  }

  private mark(text: string): void {
    if (this.fd === undefined) return;
    const line = `${new Date().toISOString()} -- ${text}\n`;
    this.append(line, Buffer.byteLength(line));
  }

  private append(line: string, lineBytes: number): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, line);
    this.fileBytes += lineBytes;
  }

  /** Writes what the cap dropped and the closing marker, once, then releases the file. */
  private closeFile(closedText: string): void {
    if (this.fd === undefined) return;
    if (this.capped) {
      this.mark(`dropped after the cap: rx ${this.droppedBytes.rx} bytes, tx ${this.droppedBytes.tx} bytes`);
    }
    this.mark(closedText);
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
