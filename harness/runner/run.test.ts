import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSntpServer, type SntpServer } from '../clock/sntp/server.js';
import type { BoardSpec, ReferenceSpec, RunEvent, RunResult, Via } from '../core/model.js';
import { fakeBoard, type FakeBoard, type FakeBoardOptions } from '../testing/fake-board.js';
import { runScenarios } from './run.js';
import { parseScenarioText } from './scenario.js';

let server: SntpServer;
let reference: ReferenceSpec;
beforeAll(async () => {
  server = await startSntpServer({ host: '127.0.0.1', port: 0 });
  reference = { servers: [`127.0.0.1:${server.port}`], samples: 2, timeoutMs: 2000, keys: [] };
});
afterAll(() => server.close());

function readAndCompare(via: Via): string {
  return `name: read-${via}
timeout: 30s
steps:
  - read-time: { via: ${via}, as: t1 }
  - compare: { read: t1, tolerance: 2s }
`;
}

async function run(yaml: string, boards: FakeBoard[], extra: { runId?: string; outDir?: string; onEvent?: (event: RunEvent) => void } = {}) {
  const byId = new Map(boards.map((board) => [board.spec.id, board]));
  return runScenarios({
    scenarios: [parseScenarioText(yaml, 'inline.yaml')],
    boards: boards.map((board) => board.spec),
    outDir: extra.outDir ?? mkdtempSync(join(tmpdir(), 'qhil-run-')),
    runId: extra.runId,
    reference,
    onEvent: extra.onEvent,
    openBoard: async (spec) => byId.get(spec.id) as FakeBoard,
  });
}

function board(id: string, ports: Via[], options: Partial<FakeBoardOptions> = {}): FakeBoard {
  const spec: BoardSpec = { id, fields: {}, ...Object.fromEntries(ports.map((via) => [via, `/dev/fake-${id}-${via}`])) };
  return fakeBoard(spec, { ports, ...options });
}

describe('runScenarios with a board of one port, or two', () => {
  it('an AT-only board passes, exit 0, and its ports are closed', async () => {
    const at = board('at-only', ['at']);
    const { result } = await run(readAndCompare('at'), [at]);
    expect(result.outcome).toBe('PASS');
    expect(result.exitCode).toBe(0);
    expect(at.calls.close).toBe(1);
  });

  it('a REPL-only board passes, exit 0', async () => {
    const { result } = await run(readAndCompare('repl'), [board('repl-only', ['repl'])]);
    expect(result).toMatchObject({ outcome: 'PASS', exitCode: 0 });
  });

  it('a board with both ports passes a scenario that uses both', async () => {
    const yaml = `name: both
steps:
  - read-time: { via: at, as: a }
  - read-time: { via: repl, as: r }
  - compare: { read: a, tolerance: 2s }
  - compare: { read: r, tolerance: 2s }
`;
    const { result } = await run(yaml, [board('both', ['at', 'repl'])]);
    expect(result).toMatchObject({ outcome: 'PASS', exitCode: 0 });
  });

  it('a step on a port the board lacks is the rig, with the reason in the record', async () => {
    const { result } = await run(readAndCompare('repl'), [board('at-only', ['at'])]);
    const scenario = result.boards[0]?.scenarios[0];
    expect(scenario).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(scenario?.message).toMatch(/has no repl port/);
    expect(result.exitCode).toBe(3);
  });

  it('a board 5 s off FAILs, exit 1, fault board', async () => {
    const { result } = await run(readAndCompare('at'), [board('fast', ['at'], { clockOffsetMs: 5000 })]);
    expect(result.boards[0]?.scenarios[0]).toMatchObject({ outcome: 'FAIL', fault: 'board' });
    expect(result.exitCode).toBe(1);
  });
});

describe('a straddle the host made is no verdict', () => {
  it('a MARGINAL offset from a reading with a long round trip is ERROR, the measurement kept', async () => {
    const slowLink = board('slow-link', ['at'], {
      readLocaltime: async (via) => {
        const hostSendMs = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        // The second that holds send + 2.5 s: the interval then always straddles the +2 s limit.
        const d = new Date(hostSendMs + 2500);
        return {
          via,
          localtime: [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0, 1],
          zoneQuarterHours: 0,
          hostSendMs,
          hostReceiveMs: Date.now(),
          raw: '',
        };
      },
    });
    const { result } = await run(readAndCompare('at'), [slowLink]);
    const compare = result.boards[0]?.scenarios[0]?.steps[1];
    expect(compare).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(compare?.measurements[0]?.outcome).toBe('MARGINAL');
    expect(compare?.message).toMatch(/no verdict: reading t1 took 1\.\d+s round trip/);
  });
});

describe('a record is never PASS until it is finished', () => {
  it('result.json says RUNNING, with the step under way, while a step runs', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'qhil-run-'));
    let seen: RunResult | undefined;
    let release: () => void = () => undefined;
    const slow = board('slow', ['at'], {
      readLocaltime: (via) =>
        new Promise((resolve) => {
          release = () => resolve({ via, localtime: [2026, 12, 1, 0, 0, 0, 1, 335], zoneQuarterHours: 0, hostSendMs: Date.now(), hostReceiveMs: Date.now(), raw: '' });
          setTimeout(() => {
            seen = JSON.parse(readFileSync(join(outDir, 'r1', 'result.json'), 'utf8')) as RunResult;
            release();
          }, 300);
        }),
    });
    await run('name: slow\nsteps:\n  - read-time: { via: at, as: t1 }\n', [slow], { outDir, runId: 'r1' });
    expect(seen?.outcome).toBe('RUNNING');
    expect(seen?.exitCode).toBe(3);
    expect(seen?.boards[0]?.scenarios[0]).toMatchObject({ outcome: 'RUNNING', current: { index: 0, title: 'read the time via at as t1' } });
    const final = JSON.parse(readFileSync(join(outDir, 'r1', 'result.json'), 'utf8')) as RunResult;
    expect(final.outcome).toBe('PASS');
  });

  it('flushNow (a second Ctrl-C) writes the record as it stands: RUNNING, aborted', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'qhil-run-'));
    let flushed: RunResult | undefined;
    let flushNow: () => void = () => undefined;
    const slow = board('slow', ['at'], {
      readLocaltime: (via) =>
        new Promise((resolve) => {
          setTimeout(() => {
            flushNow();
            flushed = JSON.parse(readFileSync(join(outDir, 'r2', 'result.json'), 'utf8')) as RunResult;
            resolve({ via, localtime: [2026, 12, 1, 0, 0, 0, 1, 335], zoneQuarterHours: 0, hostSendMs: Date.now(), hostReceiveMs: Date.now(), raw: '' });
          }, 100);
        }),
    });
    const byId = new Map([[slow.spec.id, slow]]);
    await runScenarios({
      scenarios: [parseScenarioText('name: slow\nsteps:\n  - read-time: { via: at, as: t1 }\n', 'inline.yaml')],
      boards: [slow.spec],
      outDir,
      runId: 'r2',
      openBoard: async (spec) => byId.get(spec.id) as FakeBoard,
      onStarted: (run) => {
        flushNow = run.flushNow;
      },
    });
    expect(flushed).toMatchObject({ outcome: 'RUNNING', aborted: true, exitCode: 3 });
  });

  it('flushNow once the record is concluded (a second Ctrl-C while reports are written) writes the whole record', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'qhil-run-'));
    const controller = new AbortController();
    let flushNow: () => void = () => undefined;
    let flushed: RunResult | undefined;
    const slow = board('slow', ['at'], {
      readLocaltime: () => {
        controller.abort();
        return Promise.reject(new Error('aborted'));
      },
    });
    const byId = new Map([[slow.spec.id, slow]]);
    await runScenarios({
      scenarios: [parseScenarioText('name: slow\nsteps:\n  - read-time: { via: at, as: t1 }\n', 'inline.yaml')],
      boards: [slow.spec],
      outDir,
      runId: 'r3',
      signal: controller.signal,
      openBoard: async (spec) => byId.get(spec.id) as FakeBoard,
      onStarted: (run) => {
        flushNow = run.flushNow;
      },
      onEvent: (event) => {
        // run-end comes after the record is concluded and before the reports are written.
        if (event.type !== 'run-end') return;
        flushNow();
        flushed = JSON.parse(readFileSync(join(outDir, 'r3', 'result.json'), 'utf8')) as RunResult;
      },
    });
    expect(flushed).toMatchObject({ outcome: 'ERROR', aborted: true, exitCode: 3 });
    expect(flushed?.finishedAt).toBeTruthy();
  });

  it('a run whose events cannot be written (disk full) is no PASS and says why', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'qhil-run-'));
    mkdirSync(join(outDir, 'full'));
    symlinkSync('/dev/full', join(outDir, 'full', 'events.jsonl'));
    const { result } = await run(readAndCompare('at'), [board('b', ['at'])], { outDir, runId: 'full' });
    expect(result.outcome).toBe('ERROR');
    expect(result.exitCode).toBe(3);
    expect(result.problems?.join('\n')).toMatch(/events\.jsonl.*ENOSPC/);
  });
});

describe('a bug in qhil is reported apart', () => {
  it('a TypeError in a step is ERROR fault harness, not retried, with the stack in events.jsonl', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'qhil-run-'));
    const buggy = board('buggy', ['at'], {
      readLocaltime: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'localtime')");
      },
    });
    const { result, runDir } = await run('name: bug\nsteps:\n  - read-time: { via: at, as: t1, retries: 3 }\n', [buggy], { outDir });
    const step = result.boards[0]?.scenarios[0]?.steps[0];
    expect(step).toMatchObject({ outcome: 'ERROR', fault: 'harness', attempts: 1 });
    expect(buggy.calls.read).toBe(1);
    const events = readFileSync(join(runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as RunEvent);
    const bug = events.find((event) => event.type === 'harness-bug');
    expect(bug).toMatchObject({ board: 'buggy', index: 0 });
    expect(bug && 'stack' in bug ? bug.stack : '').toMatch(/TypeError/);
  });
});

describe('retries reopen a vanished port', () => {
  it('an unplugged board is reconnected before the next step', async () => {
    const b = board('unplugged', ['at']);
    b.unplug();
    const { result } = await run(readAndCompare('at'), [b]);
    expect(b.calls.reconnect).toBe(1);
    expect(result.outcome).toBe('PASS');
  });
});
