import { readFileSync } from 'node:fs';
import type { Link } from '../../link/link.js';

/**
 * Replays a recorded AT transcript as the board: each command the host sends is answered with the
 * bytes recorded after it. Used by tests and the transcript fixtures (fixtures/transcripts/*.txt).
 *
 * Transcript format, one line per line the board printed (as in Quectel's manuals, echo on):
 *   - `# ...` is a comment;
 *   - a line starting with `AT` is a command the host sends (and the board echoes);
 *   - `@delay 50ms` pauses the board's output;
 *   - `@silent` means the board never answers the rest of this command;
 *   - any other line, blank lines included, is board output; lines before the first command are
 *     sent as soon as the peer starts (boot URCs).
 */
export interface ScriptedExchange {
  command: string;
  /** Board output after the echo, as items: a text line or a pause. */
  output: ({ line: string } | { delayMs: number } | { silent: true })[];
}

export interface Script {
  preamble: string[];
  exchanges: ScriptedExchange[];
}

export function parseScript(text: string): Script {
  const script: Script = { preamble: [], exchanges: [] };
  let current: ScriptedExchange | undefined;
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  // A trailing newline is not a blank line the board printed.
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    if (/^AT/i.test(line)) {
      current = { command: line.trim(), output: [] };
      script.exchanges.push(current);
      continue;
    }
    const delayMs = /^@delay (\d+)ms$/.exec(line)?.[1];
    if (current) {
      current.output.push(delayMs ? { delayMs: Number(delayMs) } : line === '@silent' ? { silent: true } : { line });
    } else if (!delayMs && line !== '@silent') {
      script.preamble.push(line);
    }
  }
  return script;
}

export function loadScript(path: string): Script {
  return parseScript(readFileSync(path, 'utf8'));
}

export interface ScriptedPeerOptions {
  echo?: boolean;
  /** What ends each board line: `\r\n` as on real modules, or a bare `\r` to test tolerance. */
  lineEnding?: string;
  /** Bytes sent before every answer (noise). */
  noise?: Buffer;
  /** Send each answer in chunks of this many bytes to exercise line reassembly. */
  chunkBytes?: number;
}

export class ScriptedPeer {
  /** Commands that arrived out of script order (answered ERROR); a replay test asserts this is empty. */
  readonly mismatches: string[] = [];
  readonly received: string[] = [];
  private next = 0;
  private inbound = '';
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly board: Link,
    private readonly script: Script,
    private readonly options: ScriptedPeerOptions = {},
  ) {
    board.onData((bytes) => this.onBytes(bytes));
    if (script.preamble.length > 0) {
      this.enqueue(async () => this.sendLines(script.preamble));
    }
  }

  /** True when every scripted command was asked for. */
  get finished(): boolean {
    return this.next >= this.script.exchanges.length;
  }

  /** Sends a raw chunk at once, outside the script (URCs, garbage); a string is bytes, one char per byte. */
  inject(bytes: string | Buffer): Promise<void> {
    return this.board.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  private onBytes(bytes: Buffer): void {
    this.inbound += bytes.toString('utf8');
    for (;;) {
      const end = this.inbound.indexOf('\r');
      if (end < 0) break;
      const command = this.inbound.slice(0, end).trim();
      this.inbound = this.inbound.slice(end + 1).replace(/^\n/, '');
      if (command) {
        this.received.push(command);
        this.enqueue(() => this.answer(command));
      }
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch(() => undefined);
  }

  private async answer(command: string): Promise<void> {
    const eol = this.options.lineEnding ?? '\r\n';
    if (this.options.noise) await this.write(this.options.noise);
    if (this.options.echo ?? true) await this.write(`${command}\r`);
    const exchange = this.script.exchanges[this.next];
    if (!exchange || exchange.command.toUpperCase() !== command.toUpperCase()) {
      this.mismatches.push(`expected ${exchange?.command ?? '(end of script)'}, got ${command}`);
      await this.write(`${eol}ERROR${eol}`);
      return;
    }
    this.next += 1;
    let pending = '';
    for (const item of exchange.output) {
      if ('silent' in item) break;
      if ('delayMs' in item) {
        await this.write(pending);
        pending = '';
        await new Promise((resolve) => setTimeout(resolve, item.delayMs));
        continue;
      }
      pending += `${eol}${item.line}`;
    }
    if (pending) await this.write(`${pending}${eol}`);
  }

  private async sendLines(lines: string[]): Promise<void> {
    const eol = this.options.lineEnding ?? '\r\n';
    await this.write(lines.map((line) => `${eol}${line}${eol}`).join(''));
  }

  /** Script text goes out as UTF-8, as a module prints it. */
  private async write(text: string | Buffer): Promise<void> {
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    if (bytes.length === 0) return;
    const chunk = this.options.chunkBytes ?? bytes.length;
    for (let offset = 0; offset < bytes.length; offset += chunk) {
      await this.board.write(bytes.subarray(offset, offset + chunk));
    }
  }
}
