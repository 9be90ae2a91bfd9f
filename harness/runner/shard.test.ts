// `--shard i/n`: the split is deterministic and covers every board × scenario pair exactly once,
// and merging the shards' records gives what one unsharded run gives: totals, outcome, exit code.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import type { BoardSpec, RunResult, Scenario } from '../core/model.js';
import { countNotRun, countOutcomes } from '../report/format.js';
import { mergeRunResults } from '../report/merge.js';
import { useLoopbackReference } from '../testing/loopback-reference.js';
import { fakeBoard, type FakeBoard } from '../testing/fake-board.js';
import { parseShard, planShards } from './preflight.js';
import { runScenarios, type RunOutput } from './run.js';
import { parseScenarioText } from './scenario.js';

const { reference: loopbackReference, dirs } = useLoopbackReference();

function scenario(name: string): Scenario {
  return parseScenarioText(`name: ${name}\nsteps:\n  - read-time: { via: at, as: t1 }\n  - compare: { read: t1, tolerance: 2s }\n`, `${name}.yaml`);
}

function spec(id: string): BoardSpec {
  return { id, at: `/dev/fake-${id}`, fields: {} };
}

describe('parseShard', () => {
  it('reads i/n and refuses anything else as bad input', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/3', '4/3', '3', '1/0', 'a/b', '-1/3', '1.5/3', '1/3/4', '']) {
      expect(() => parseShard(bad), bad).toThrow(InputError);
    }
    expect(() => parseShard('4/3')).toThrow(/--shard "4\/3": expected i\/n with 1 <= i <= n/);
  });
});

describe('planShards', () => {
  it('puts every board × scenario pair in exactly one shard, shards differing by at most one pair', () => {
    const pool = Array.from({ length: 5 }, (_, i) => scenario(`s${i}`));
    for (const boards of [1, 2, 3, 7, 32]) {
      for (const scenarios of [1, 2, 5]) {
        for (const count of [1, 2, 3, 4, 10]) {
          const specs = Array.from({ length: boards }, (_, i) => spec(`b${i}`));
          const list = pool.slice(0, scenarios);
          const plan = planShards(specs, list, count);
          const label = `${boards} boards × ${scenarios} scenarios in ${count}`;
          expect(plan.map((w) => `${w.board}/${w.scenario}`), label).toEqual(specs.flatMap((b) => list.map((s) => `${b.id}/${s.name}`)));
          expect(plan.every((w) => w.shard >= 1 && w.shard <= count), label).toBe(true);
          const sizes = Array.from({ length: count }, (_, i) => plan.filter((w) => w.shard === i + 1).length);
          expect(Math.max(...sizes) - Math.min(...sizes), label).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('is the same plan every time for the same boards and scenarios, and keeps a board on one shard where it can', () => {
    const specs = ['a', 'b', 'c'].map(spec);
    const list = ['x', 'y'].map(scenario);
    const plan = planShards(specs, list, 3);
    expect(planShards(specs.map((b) => ({ ...b })), list, 3)).toEqual(plan);
    expect(plan.map((w) => `${w.board}/${w.scenario}:${w.shard}`)).toEqual(['a/x:1', 'a/y:1', 'b/x:2', 'b/y:2', 'c/x:3', 'c/y:3']);
  });
});

describe('sharded runs merged', () => {
  /** Five boards, two scenarios; board b3's clock is 5 s off (FAIL), the others pass. */
  const boardIds = ['b0', 'b1', 'b2', 'b3', 'b4'];
  const scenarios = [scenario('first'), scenario('second')];

  async function run(shard?: { index: number; count: number }, signal?: AbortSignal): Promise<RunOutput> {
    const fakes = new Map<string, FakeBoard>(boardIds.map((id) => [id, fakeBoard(spec(id), { ports: ['at'], clockOffsetMs: id === 'b3' ? 5000 : 0 })]));
    const outDir = mkdtempSync(join(tmpdir(), 'qhil-shard-'));
    dirs.push(outDir);
    return runScenarios({
      scenarios,
      boards: boardIds.map(spec),
      outDir,
      reference: loopbackReference(),
      shard,
      signal,
      openBoard: async (s) => fakes.get(s.id) as FakeBoard,
    });
  }

  function totals(result: RunResult) {
    const all = result.boards.flatMap((b) => b.scenarios);
    return {
      counts: countOutcomes(all),
      notRun: countNotRun(result),
      outcome: result.outcome,
      exitCode: result.exitCode,
      pairs: all.map((s) => `${s.board}/${s.scenario}:${s.outcome}`),
    };
  }

  it('a shard runs only its share and records its place in the plan', async () => {
    const { result } = await run({ index: 2, count: 3 });
    const ran = result.boards.flatMap((b) => b.scenarios.map((s) => `${s.board}/${s.scenario}`));
    expect(ran).toEqual(result.shard?.plan.filter((w) => w.shard === 2).map((w) => `${w.board}/${w.scenario}`));
    expect(ran.length).toBeGreaterThanOrEqual(3);
    expect(result.shard).toMatchObject({ index: 2, count: 3 });
    expect(result.runId).toMatch(/-shard2of3$/);
    expect(result.shard?.plan).toHaveLength(10);
  });

  it('shards 1/3, 2/3, 3/3 merged give the unsharded run: same pairs, totals, outcome and exit code', async () => {
    const whole = await run();
    const parts = await Promise.all([1, 2, 3].map((index) => run({ index, count: 3 })));
    const merged = mergeRunResults(
      parts.map((p) => ({ runDir: p.runDir, result: p.result })),
      mkdtempSync(join(tmpdir(), 'qhil-shard-merged-')),
    );
    expect(totals(merged)).toEqual(totals(whole.result));
    expect(merged.exitCode).toBe(1);
    expect(merged.boards.map((b) => b.id)).toEqual(boardIds);
    expect(merged.mergedShards?.map((s) => `${s.index}/${s.count}`)).toEqual(['1/3', '2/3', '3/3']);
  });

  it('a shard missing from the merge leaves its work an ERROR naming it: exit 3 unless a FAIL stands', async () => {
    const [one, two] = await Promise.all([1, 2].map((index) => run({ index, count: 3 })));
    const merged = mergeRunResults(
      [one, two].map((p) => ({ runDir: (p as RunOutput).runDir, result: (p as RunOutput).result })),
      mkdtempSync(join(tmpdir(), 'qhil-shard-merged-')),
    );
    const absent = merged.boards.flatMap((b) => b.scenarios).filter((s) => /shard 3\/3 is not among the merged run folders/.test(s.message ?? ''));
    const third = (one as RunOutput).result.shard?.plan.filter((w) => w.shard === 3) ?? [];
    expect(absent.map((s) => `${s.board}/${s.scenario}`)).toEqual(third.map((w) => `${w.board}/${w.scenario}`));
    expect(absent.every((s) => s.outcome === 'ERROR' && s.fault === 'rig')).toBe(true);
    expect(merged.boards.flatMap((b) => b.scenarios)).toHaveLength(10);
    // b3's first scenario (a FAIL) is in shard 2 of 3: the firm verdict stands over the missing work.
    expect(merged.exitCode).toBe(1);
    const withoutFail = mergeRunResults([{ runDir: (one as RunOutput).runDir, result: (one as RunOutput).result }], mkdtempSync(join(tmpdir(), 'qhil-shard-merged-')));
    expect(withoutFail.exitCode).toBe(3);
    expect(withoutFail.outcome).toBe('ERROR');
  });

  it('the same shard given twice is bad input', async () => {
    const one = await run({ index: 1, count: 3 });
    const again = await run({ index: 1, count: 3 });
    expect(() =>
      mergeRunResults(
        [one, again].map((p) => ({ runDir: p.runDir, result: p.result })),
        'merged',
      ),
    ).toThrow(/shard 1\/3 is given twice/);
  });

  it('an aborted shard reports only its own share as not run, never another shard\'s', async () => {
    const controller = new AbortController();
    controller.abort();
    const { result } = await run({ index: 1, count: 3 }, controller.signal);
    const share = result.shard?.plan.filter((w) => w.shard === 1).length ?? 0;
    expect(result.boards.flatMap((b) => b.scenarios).map((s) => s.outcome)).toEqual(Array(share).fill('SKIP'));
    expect(countNotRun(result)).toBe(0);
    const merged = mergeRunResults([{ runDir: 'x', result }], 'merged');
    const skipped = merged.boards.flatMap((b) => b.scenarios).filter((s) => s.outcome === 'SKIP');
    expect(skipped).toHaveLength(share);
  });

  it('a shard with no work (more shards than pairs) runs nothing and passes', async () => {
    const fakes = new Map([['only', fakeBoard(spec('only'), { ports: ['at'] })]]);
    const outDir = mkdtempSync(join(tmpdir(), 'qhil-shard-'));
    dirs.push(outDir);
    const { result } = await runScenarios({
      scenarios: [scenarios[0] as Scenario],
      boards: [spec('only')],
      outDir,
      reference: loopbackReference(),
      shard: { index: 2, count: 2 },
      openBoard: async (s) => fakes.get(s.id) as FakeBoard,
    });
    expect(result.boards).toEqual([]);
    expect(result).toMatchObject({ outcome: 'PASS', exitCode: 0 });
  });
});
