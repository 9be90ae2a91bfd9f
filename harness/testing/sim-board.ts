/**
 * Helpers for the simulated board's in-process tests (harness/sim/board*.test.ts): boards and SNTP
 * servers that are closed after each test, and a minimal raw-REPL peer over raw bytes.
 */
import { Receiver } from '../channel/receiver.js';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import type { Link } from '../link/link.js';
import { startSimBoard, type SimBoard, type StartSimBoardOptions } from '../sim/board.js';
import type { ServedBoard } from '../sim/serve.js';

/** What a test started; `cleanup()` (in afterEach) closes all of it. */
export class SimFixtures {
  readonly boards: SimBoard[] = [];
  readonly servers: SntpServer[] = [];
  readonly served: ServedBoard[] = [];
  readonly links: Link[] = [];

  /** An `ec200u` board unless `options` say otherwise. */
  async board(options: Partial<StartSimBoardOptions> = {}): Promise<SimBoard> {
    const started = await startSimBoard({ profile: 'ec200u', ...options });
    this.boards.push(started);
    return started;
  }

  async sntp(offsetMs: number): Promise<SntpServer> {
    const server = await startSntpServer({ offsetMs });
    this.servers.push(server);
    return server;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.links.splice(0).map((link) => link.close()));
    await Promise.allSettled(this.served.splice(0).map((s) => s.close()));
    await Promise.allSettled(this.boards.splice(0).map((board) => board.close()));
    await Promise.allSettled(this.servers.splice(0).map((server) => server.close()));
  }
}

export const limits = (waitingFor: string, deadlineMs = 5000) => ({ waitingFor, inactivityMs: deadlineMs, deadlineMs });
export const RAW_PROMPT = 'raw REPL; CTRL-B to exit\r\n>';

/** A minimal raw-REPL peer over raw bytes, written from protocols.md (not the harness's ReplChannel). */
export class RawPeer {
  readonly rx: Receiver;
  constructor(readonly link: Link) {
    this.rx = new Receiver(link);
  }

  async enterRaw(): Promise<void> {
    await this.rx.write('\r\x03\x03');
    await this.rx.drain(50, 1000);
    this.rx.discard();
    await this.rx.write('\r\x01');
    await this.rx.waitFor(RAW_PROMPT, limits('raw prompt'));
  }

  /** Plain raw mode: code, Ctrl-D, `OK`, stdout `\x04` traceback `\x04` `>`. */
  async exec(code: string, deadlineMs = 5000): Promise<{ stdout: string; stderr: string }> {
    await this.rx.write(`${code}\x04`);
    await this.rx.waitFor('OK', limits('OK', deadlineMs));
    return this.output(deadlineMs);
  }

  async output(deadlineMs = 5000): Promise<{ stdout: string; stderr: string }> {
    const stdout = await this.rx.waitFor('\x04', limits('end of stdout', deadlineMs));
    const stderr = await this.rx.waitFor('\x04', limits('end of traceback', deadlineMs));
    await this.rx.waitFor('>', limits('raw prompt'));
    return { stdout: stdout.before, stderr: stderr.before };
  }
}

export function tuple(text: string): number[] {
  const match = /\(([-\d, ]+)\)/.exec(text);
  if (!match) throw new Error(`no tuple in ${JSON.stringify(text)}`);
  return (match[1] ?? '').split(',').map((field) => Number(field.trim()));
}

/** The Unix ms a localtime 8-tuple names (board fields read as UTC). */
export function tupleMs(fields: number[]): number {
  const [year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0] = fields;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}
