import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent, RunResult } from '../core/model.js';
import { EventLog } from './events.js';
import { readResultJson } from './json.js';

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

describe('a killed run: events.jsonl folded into the record it left', () => {
  const step = (index: number, kind: string) => ({
    index,
    kind,
    title: kind,
    outcome: 'PASS' as const,
    startedAt: at,
    durationMs: 5,
    attempts: 1,
    measurements: [],
    data: {},
    location: { file: 's.yaml', line: 3 + index, column: 5 },
  });
  const snapshot: RunResult = {
    runId: 'r1',
    tool: { name: 'qhil', version: '0.1.0' },
    startedAt: at,
    aborted: false,
    outcome: 'RUNNING',
    exitCode: 3,
    host: { hostname: 'h', platform: 'linux-x64', node: 'v20' },
    tags: [],
    scenarios: [
      { name: 'a', file: 'a.yaml' },
      { name: 'b', file: 'b.yaml' },
    ],
    boards: [{ id: 'sim-1', ports: {}, transcripts: [], scenarios: [] }],
    references: [],
  };

  it('holds every finished step and scenario and the step under way; still RUNNING, so never a pass', async () => {
    const runDir = join(dir, 'killed');
    await mkdir(runDir, { recursive: true });
    await writeFile(join(runDir, 'result.json'), JSON.stringify(snapshot));
    const finishedA = { scenario: 'a', file: 'a.yaml', board: 'sim-1', outcome: 'PASS' as const, startedAt: at, durationMs: 9, steps: [step(0, 'dial'), step(1, 'sync')] };
    const lines: RunEvent[] = [
      { type: 'run-start', at, runId: 'r1', scenarios: ['a', 'b'], boards: ['sim-1'] },
      { type: 'board-ready', at, board: 'sim-1', identity: { model: 'EC200U-EU', details: {} }, ports: { repl: 'sim://sim-1/repl' } },
      { type: 'scenario-start', at, board: 'sim-1', scenario: 'a' },
      { type: 'step-start', at, board: 'sim-1', scenario: 'a', index: 0, kind: 'dial', title: 'dial' },
      { type: 'step-end', at, board: 'sim-1', scenario: 'a', result: step(0, 'dial') },
      { type: 'step-end', at, board: 'sim-1', scenario: 'a', result: step(1, 'sync') },
      { type: 'scenario-end', at, board: 'sim-1', result: finishedA },
      { type: 'scenario-start', at, board: 'sim-1', scenario: 'b' },
      { type: 'step-start', at, board: 'sim-1', scenario: 'b', index: 0, kind: 'dial', title: 'dial via repl' },
      { type: 'step-end', at, board: 'sim-1', scenario: 'b', result: step(0, 'dial') },
      { type: 'step-start', at, board: 'sim-1', scenario: 'b', index: 1, kind: 'wait', title: 'wait 20s' },
    ];
    // The last line torn by the kill.
    await writeFile(join(runDir, 'events.jsonl'), `${lines.map((e) => JSON.stringify(e)).join('\n')}\n{"type":"step-e`);
    const record = await readResultJson(join(runDir, 'result.json'));
    expect(record.outcome).toBe('RUNNING');
    expect(record.boards[0]?.identity?.model).toBe('EC200U-EU');
    expect(record.boards[0]?.scenarios.map((s) => [s.scenario, s.outcome, s.steps.length])).toEqual([
      ['a', 'PASS', 2],
      ['b', 'RUNNING', 1],
    ]);
    expect(record.boards[0]?.scenarios[1]?.current).toEqual({ index: 1, title: 'wait 20s', startedAt: at });
    expect(record.boards[0]?.scenarios[1]?.file).toBe('b.yaml');
  });

  it('leaves a finished record as it is, whatever its events say', async () => {
    const runDir = join(dir, 'finished');
    await mkdir(runDir, { recursive: true });
    const finished = { ...snapshot, outcome: 'PASS' as const, exitCode: 0 };
    await writeFile(join(runDir, 'result.json'), JSON.stringify(finished));
    await writeFile(join(runDir, 'events.jsonl'), `${JSON.stringify({ type: 'scenario-start', at, board: 'sim-1', scenario: 'a' })}\n`);
    expect((await readResultJson(join(runDir, 'result.json'))).boards[0]?.scenarios).toEqual([]);
  });
});

describe('EventLog durability', () => {
  it('syncs in the background without losing order, and close() syncs the rest', async () => {
    const log = new EventLog(join(dir, 'many'));
    for (let i = 0; i < 2000; i++) log.append({ type: 'log', at, level: 'info', message: `line ${i}` });
    log.close();
    const lines = (await readFile(log.path, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2000);
    expect(lines.map((line) => (JSON.parse(line) as { message: string }).message)).toEqual(Array.from({ length: 2000 }, (_, i) => `line ${i}`));
  });
});
