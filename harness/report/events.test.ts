import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../core/model.js';
import { EventLog } from './events.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qhil-events-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const at = '2025-03-04T02:00:00.000Z';
const events: RunEvent[] = [
  { type: 'run-start', at, runId: 'r1', scenarios: ['ntp-sync-repl'], boards: ['sim-1'] },
  { type: 'scenario-start', at, board: 'sim-1', scenario: 'ntp-sync-repl' },
  { type: 'step-start', at, board: 'sim-1', scenario: 'ntp-sync-repl', index: 0, kind: 'dial', title: 'dial via repl' },
  { type: 'log', at, board: 'sim-1', level: 'warn', message: 'board said "\x04>" and\nthen <&> \u2028 more' },
];

describe('EventLog', () => {
  it('has every event on disk, one valid JSON line each and in order, before close()', async () => {
    const log = new EventLog(join(dir, 'run-1'));
    const seen: string[] = [];
    for (const event of events) {
      log.append(event);
      // Read through the file system, not the writer: this is what survives a crash.
      seen.push(await readFile(log.path, 'utf8'));
    }
    const lines = (seen.at(-1) ?? '').split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => JSON.parse(line) as unknown)).toEqual(events);
    seen.forEach((content, i) => expect(content.split('\n')).toHaveLength(i + 2));
    log.close();
  });

  it('appends to an existing log instead of truncating it', async () => {
    const first = new EventLog(dir);
    first.append(events[0] as RunEvent);
    first.close();
    const second = new EventLog(dir);
    second.append(events[1] as RunEvent);
    second.close();
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as RunEvent).type)).toEqual(['run-start', 'scenario-start']);
  });

  it('refuses to append after close and tolerates a second close', () => {
    const log = new EventLog(dir);
    log.close();
    expect(() => log.close()).not.toThrow();
    expect(() => log.append(events[0] as RunEvent)).toThrow(/closed/);
  });
});
