// Boards in parallel under a limit, with fake boards: the limit holds, a hung board (in a step, in
// open, in close) never holds another, a stop with boards in flight ends everything cleanly, and the
// record and the events agree.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BoardSpec, LocaltimeReading, RunEvent, Via } from '../core/model.js';
import { foldEvents } from '../report/events.js';
import { useLoopbackReference } from '../testing/loopback-reference.js';
import { fakeBoard, type FakeBoard, type FakeBoardOptions } from '../testing/fake-board.js';
import type { BoardConnection } from './boards.js';
import { runScenarios, type RunOptions } from './run.js';
import { parseScenarioText } from './scenario.js';

const { reference: loopbackReference, dirs } = useLoopbackReference();

function outDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qhil-parallel-'));
  dirs.push(dir);
  return dir;
}

const READ_AND_COMPARE = parseScenarioText(
  'name: read\ntimeout: 30s\nsteps:\n  - read-time: { via: at, as: t1, timeout: 1s }\n  - compare: { read: t1, tolerance: 2s }\n',
  'read.yaml',
);

function board(id: string, options: Partial<FakeBoardOptions> = {}): FakeBoard {
  const spec: BoardSpec = { id, at: `/dev/fake-${id}`, fields: {} };
  return fakeBoard(spec, { ports: ['at'] as Via[], ...options });
}

/** A reading that takes `delayMs` (host timers), then answers with the host's time. */
function slowRead(delayMs: number): (via: Via, signal?: AbortSignal) => Promise<LocaltimeReading> {
  return (via) =>
    new Promise((resolve) => {
      const hostSendMs = Date.now();
      setTimeout(() => {
        const d = new Date(Date.now());
        resolve({
          via,
          localtime: [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0, 1],
          zoneQuarterHours: 0,
          hostSendMs,
          hostReceiveMs: Date.now(),
          raw: '',
        });
      }, delayMs);
    });
}

/** Never answers, whatever the signal says: a wedged board. */
const hang = (): Promise<LocaltimeReading> => new Promise<LocaltimeReading>(() => undefined);

async function run(boards: FakeBoard[], extra: Partial<RunOptions> = {}, open?: (spec: BoardSpec) => Promise<BoardConnection>) {
  const byId = new Map(boards.map((b) => [b.spec.id, b]));
  return runScenarios({
    scenarios: [READ_AND_COMPARE],
    boards: boards.map((b) => b.spec),
    outDir: outDir(),
    reference: loopbackReference(),
    openBoard: open ?? (async (spec) => byId.get(spec.id) as FakeBoard),
    ...extra,
  });
}

function events(runDir: string): RunEvent[] {
  return readFileSync(join(runDir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as RunEvent);
}

describe('boards under a concurrency limit', () => {
  it('never has more than the limit open at once, reaches it, and runs every board', async () => {
    let open = 0;
    let peak = 0;
    const boards = Array.from({ length: 6 }, (_, i) => board(`b${i}`, { readLocaltime: slowRead(150) }));
    const byId = new Map(boards.map((b) => [b.spec.id, b]));
    const { result } = await run(boards, { concurrency: 2 }, async (spec) => {
      open++;
      peak = Math.max(peak, open);
      const fake = byId.get(spec.id) as FakeBoard;
      return { ...fake, board: fake.board, close: async () => void open-- } as BoardConnection;
    });
    expect(peak).toBe(2);
    expect(result.outcome).toBe('PASS');
    expect(result.boards.map((b) => b.scenarios[0]?.outcome)).toEqual(Array(6).fill('PASS'));
  });

  it('runs every board at once without a limit', async () => {
    let open = 0;
    let peak = 0;
    const boards = Array.from({ length: 5 }, (_, i) => board(`b${i}`, { readLocaltime: slowRead(300) }));
    const byId = new Map(boards.map((b) => [b.spec.id, b]));
    await run(boards, {}, async (spec) => {
      open++;
      peak = Math.max(peak, open);
      const fake = byId.get(spec.id) as FakeBoard;
      return { ...fake, board: fake.board, close: async () => void open-- } as BoardConnection;
    });
    expect(peak).toBe(5);
  });

  it('a board hung in a step holds only its own slot, until its deadline', async () => {
    const boards = [board('hung', { readLocaltime: hang }), board('b1'), board('b2'), board('b3')];
    const { result } = await run(boards, { concurrency: 1 });
    const outcomes = Object.fromEntries(result.boards.map((b) => [b.id, b.scenarios[0]?.outcome]));
    expect(outcomes).toEqual({ hung: expect.stringMatching(/^(FAIL|ERROR)$/), b1: 'PASS', b2: 'PASS', b3: 'PASS' });
    expect(result.boards[0]?.scenarios[0]?.steps[0]?.message, 'the step says which limit fired').toMatch(/limit|timeout|within/i);
    expect(boards.every((b) => b.calls.close === 1)).toBe(true);
  }, 20_000);

  it('a board whose open hangs is the rig ERROR at the open deadline; the queued boards run', async () => {
    const boards = [board('wedged'), board('b1'), board('b2')];
    const byId = new Map(boards.map((b) => [b.spec.id, b]));
    const { result } = await run(boards, { concurrency: 1, openTimeoutMs: 300 }, (spec) =>
      spec.id === 'wedged' ? new Promise<BoardConnection>(() => undefined) : Promise.resolve(byId.get(spec.id) as FakeBoard),
    );
    expect(result.boards[0]?.scenarios[0]).toMatchObject({ outcome: 'ERROR', fault: 'rig' });
    expect(result.boards[0]?.scenarios[0]?.message).toMatch(/opening the board took longer than 300ms/);
    expect(result.boards.slice(1).map((b) => b.scenarios[0]?.outcome)).toEqual(['PASS', 'PASS']);
    expect(result.exitCode).toBe(3);
  });

  it('a board whose close hangs does not keep the next board waiting past the close deadline', async () => {
    const boards = [board('sticky'), board('b1')];
    const byId = new Map(boards.map((b) => [b.spec.id, b]));
    const onEvent: RunEvent[] = [];
    const { result } = await run(boards, { concurrency: 1, closeTimeoutMs: 200, onEvent: (e) => onEvent.push(e) }, async (spec) => {
      const fake = byId.get(spec.id) as FakeBoard;
      return spec.id === 'sticky' ? ({ ...fake, board: fake.board, close: () => new Promise<void>(() => undefined) } as BoardConnection) : fake;
    });
    expect(result.boards.map((b) => b.scenarios[0]?.outcome)).toEqual(['PASS', 'PASS']);
    expect(onEvent.some((e) => e.type === 'log' && e.board === 'sticky' && /closing the ports took longer than 200ms/.test(e.message))).toBe(true);
  });

  it('a stop with boards in flight: those running end ERROR, those queued SKIP, every opened board closed, exit 3', async () => {
    const controller = new AbortController();
    const boards = Array.from({ length: 4 }, (_, i) => board(`b${i}`, { readLocaltime: (via, signal) => abortableHang(signal) }));
    const started: string[] = [];
    const { result } = await run(boards, {
      concurrency: 2,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'step-start') {
          started.push(event.board);
          if (started.length === 2) setTimeout(() => controller.abort(), 50);
        }
      },
    });
    expect(result.aborted).toBe(true);
    expect(result.exitCode).toBe(3);
    expect(result.boards.map((b) => b.scenarios[0]?.outcome)).toEqual(['ERROR', 'ERROR', 'SKIP', 'SKIP']);
    expect(result.boards[2]?.scenarios[0]?.message).toMatch(/stopped before this board started/);
    expect(boards.map((b) => b.calls.close)).toEqual([1, 1, 0, 0]);
  });

  it('the record and the events agree: every scenario ended once in events.jsonl, and the events rebuild the record', async () => {
    const boards = Array.from({ length: 8 }, (_, i) => board(`b${i}`, i === 5 ? { clockOffsetMs: 5000 } : { readLocaltime: slowRead(20 * (i % 3)) }));
    const { result, runDir } = await run(boards, { concurrency: 3 });
    const log = events(runDir);
    const ends = log.filter((e): e is Extract<RunEvent, { type: 'scenario-end' }> => e.type === 'scenario-end');
    expect(ends.map((e) => e.board).sort()).toEqual(boards.map((b) => b.spec.id).sort());
    expect(log.at(-1)).toMatchObject({ type: 'run-end', exitCode: 1 });
    // The record as a kill at its start would have left it, with the events folded in: every scenario as recorded.
    const empty = { ...result, outcome: 'RUNNING' as const, boards: result.boards.map((b) => ({ ...b, scenarios: [] })) };
    const rebuilt = foldEvents(JSON.parse(JSON.stringify(empty)) as typeof result, runDir);
    expect(rebuilt.boards.map((b) => b.scenarios.map((s) => [s.outcome, s.steps.length]))).toEqual(
      result.boards.map((b) => b.scenarios.map((s) => [s.outcome, s.steps.length])),
    );
    expect(result.boards[5]?.scenarios[0]?.outcome).toBe('FAIL');
  });
});

/** Hangs until `signal` aborts, then rejects with its reason, as a channel wait does. */
function abortableHang(signal?: AbortSignal): Promise<LocaltimeReading> {
  return new Promise((_resolve, reject) => {
    signal?.addEventListener('abort', () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')), { once: true });
  });
}
