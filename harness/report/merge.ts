/**
 * Merges several runs into one report (`qhil report a b --out c`): a nightly bench that ran its boards
 * in separate processes, or a release gate assembled from several rigs, wants one JUnit file and one
 * sign-off page. Shards of one run (`--shard i/n`) are put back together board by board, as the
 * unsharded run would have recorded them; a shard that is missing leaves its work an ERROR.
 */
import { relative, resolve, sep } from 'node:path';
import { InputError } from '../core/errors.js';
import { combineOutcomes, exitCodeOf, type BoardResult, type RunResult, type ScenarioResult, type ShardWork } from '../core/model.js';
import { isUnfinished, notRunScenarios } from './format.js';

export interface RunInput {
  /** The run folder the result came from: its transcript paths are relative to it. */
  runDir: string;
  result: RunResult;
}

/**
 * Boards are concatenated in input order; the outcome is combined with combineOutcomes. Transcript
 * paths are rewritten relative to `outDir` so the merged report's links still reach the files.
 */
export function mergeRunResults(inputs: RunInput[], outDir: string): RunResult {
  const first = inputs[0];
  if (!first) throw new Error('mergeRunResults needs at least one run');
  const results = inputs.map((input) => input.result);
  const shardSets = groupShards(inputs);
  const boards: BoardResult[] = [];
  const missing: ScenarioResult[] = [];
  for (const input of inputs) {
    if (input.result.shard) continue;
    boards.push(...input.result.boards.map((board) => relocateBoard(withNotRunRecorded(input.result, board), input.runDir, outDir)));
  }
  for (const set of shardSets) {
    const merged = mergeShardSet(set, outDir);
    boards.push(...merged.boards);
    missing.push(...merged.missing);
  }
  const finished = results.map((r) => r.finishedAt);
  const mergedShards = shardSets.flatMap((set) =>
    set.parts.map(({ result }) => ({ index: result.shard?.index ?? 0, count: result.shard?.count ?? 0, runId: result.runId, hostname: result.host.hostname })),
  );
  return {
    runId: unique(results.map((r) => r.runId)).join('+'),
    tool: { name: 'qhil', version: unique(results.map((r) => r.tool.version)).join(', ') },
    startedAt: results.map((r) => r.startedAt).sort()[0] ?? first.result.startedAt,
    finishedAt: finished.every((f): f is string => f !== undefined) ? finished.sort().at(-1) : undefined,
    // The runs may be days apart; their summed durations say how long testing took, the span would not.
    durationMs: results.reduce((ms, r) => ms + (r.durationMs ?? 0), 0),
    aborted: results.some((r) => r.aborted),
    outcome: combineOutcomes([...results.map((r) => r.outcome), ...missing.map((m) => m.outcome)]),
    exitCode: exitCodeOf(
      [
        ...results.flatMap((r) => r.boards.flatMap((board) => board.scenarios.map((scenario) => scenario.outcome))),
        // A run left RUNNING whose scenarios all ended is still unfinished: never exit 0 for it.
        ...results.filter(isUnfinished).map(() => 'RUNNING' as const),
        // Work of a shard that is not among the inputs was never run: no verdict on it.
        ...missing.map((m) => m.outcome),
      ],
      results.some((r) => r.aborted),
    ),
    host: {
      hostname: unique(results.map((r) => r.host.hostname)).join(', '),
      platform: unique(results.map((r) => r.host.platform)).join(', '),
      node: unique(results.map((r) => r.host.node)).join(', '),
    },
    tags: unique(results.flatMap((r) => r.tags)),
    scenarios: uniqueBy(
      results.flatMap((r) => r.scenarios),
      (s) => `${s.name}\u0000${s.file}`,
    ),
    boards,
    references: results.flatMap((r) => r.references),
    ...(mergedShards.length > 0 && { mergedShards }),
  };
}

interface ShardSet {
  count: number;
  plan: ShardWork[];
  /** In shard order. */
  parts: RunInput[];
}

/**
 * The sharded inputs, grouped by the run they are shards of (the same plan). The same shard twice
 * (a CI job retried, both folders given) is bad input: which of the two is the verdict is the user's call.
 */
function groupShards(inputs: RunInput[]): ShardSet[] {
  const sets = new Map<string, ShardSet>();
  for (const input of inputs) {
    const shard = input.result.shard;
    if (!shard) continue;
    const key = `${shard.count}\u0000${JSON.stringify(shard.plan)}`;
    let set = sets.get(key);
    if (!set) {
      set = { count: shard.count, plan: shard.plan, parts: [] };
      sets.set(key, set);
    }
    const twin = set.parts.find((part) => part.result.shard?.index === shard.index);
    if (twin) {
      throw new InputError(
        `shard ${shard.index}/${shard.count} is given twice (${twin.runDir} and ${input.runDir}): give one run folder per shard`,
      );
    }
    set.parts.push(input);
  }
  for (const set of sets.values()) set.parts.sort((a, b) => (a.result.shard?.index ?? 0) - (b.result.shard?.index ?? 0));
  return [...sets.values()];
}

/**
 * One board result per board of the plan, in the plan's order, holding its scenarios from whichever
 * shards ran them; the work of shards not given is an ERROR of its own, saying which shard is missing.
 */
function mergeShardSet(set: ShardSet, outDir: string): { boards: BoardResult[]; missing: ScenarioResult[] } {
  const present = new Set(set.parts.map((part) => part.result.shard?.index));
  const boardIds = unique(set.plan.map((w) => w.board));
  const boards: BoardResult[] = [];
  const missing: ScenarioResult[] = [];
  for (const id of boardIds) {
    const pieces = set.parts.flatMap(({ runDir, result }) =>
      result.boards.filter((board) => board.id === id).map((board) => relocateBoard(withNotRunRecorded(result, board), runDir, outDir)),
    );
    const order = set.plan.filter((w) => w.board === id);
    const scenarios = pieces.flatMap((piece) => piece.scenarios);
    for (const w of order) {
      if (present.has(w.shard) || scenarios.some((s) => s.scenario === w.scenario)) continue;
      const absent: ScenarioResult = {
        scenario: w.scenario,
        file: set.parts.flatMap((part) => part.result.scenarios).find((s) => s.name === w.scenario)?.file ?? '',
        board: id,
        outcome: 'ERROR',
        fault: 'rig',
        startedAt: set.parts[0]?.result.startedAt ?? new Date(0).toISOString(),
        durationMs: 0,
        message: `not run: shard ${w.shard}/${set.count} is not among the merged run folders`,
        steps: [],
      };
      scenarios.push(absent);
      missing.push(absent);
    }
    const rank = (name: string): number => order.findIndex((w) => w.scenario === name);
    scenarios.sort((a, b) => rank(a.scenario) - rank(b.scenario));
    const identified = pieces.find((piece) => piece.identity) ?? pieces[0];
    boards.push({
      id,
      ...(pieces.find((piece) => piece.model)?.model !== undefined && { model: pieces.find((piece) => piece.model)?.model }),
      ...(identified?.identity && { identity: identified.identity }),
      ports: identified?.ports ?? {},
      transcripts: pieces.flatMap((piece) => piece.transcripts),
      scenarios,
    });
  }
  return { boards, missing };
}

/**
 * Once runs are merged, "the run was aborted" no longer says which boards it concerned, so the
 * scenarios an aborted run never started are written down as SKIP results of their own board; those
 * an unfinished run (killed, disk full) never started are ERRORs: nobody chose to skip them.
 */
function withNotRunRecorded(result: RunResult, board: BoardResult): BoardResult {
  const missing = notRunScenarios(result, board);
  if (missing.length === 0) return board;
  const unfinished = isUnfinished(result);
  const skipped: ScenarioResult[] = missing.map((scenario) => ({
    scenario: scenario.name,
    file: scenario.file,
    board: board.id,
    outcome: unfinished ? 'ERROR' : 'SKIP',
    startedAt: result.finishedAt ?? result.startedAt,
    durationMs: 0,
    message: unfinished
      ? `not run: run ${result.runId} did not finish (its record was left RUNNING) before this scenario started`
      : `not run: run ${result.runId} was aborted before this scenario started`,
    steps: [],
  }));
  return { ...board, scenarios: [...board.scenarios, ...skipped] };
}

function relocateBoard(board: BoardResult, runDir: string, outDir: string): BoardResult {
  const transcripts = board.transcripts.map((path) => relative(resolve(outDir), resolve(runDir, path)).split(sep).join('/'));
  return { ...board, transcripts };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function uniqueBy<T>(values: T[], key: (value: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const value of values) if (!seen.has(key(value))) seen.set(key(value), value);
  return [...seen.values()];
}
