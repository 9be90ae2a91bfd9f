/**
 * Merges several runs into one report (`qhil report a b --out c`): a nightly bench that ran its boards
 * in separate processes, or a release gate assembled from several rigs, wants one JUnit file and one
 * sign-off page.
 */
import { relative, resolve, sep } from 'node:path';
import { combineOutcomes, exitCodeOf, type BoardResult, type RunResult, type ScenarioResult } from '../core/model.js';
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
  const boards = inputs.flatMap(({ runDir, result }) =>
    result.boards.map((board) => relocateBoard(withNotRunRecorded(result, board), runDir, outDir)),
  );
  const finished = results.map((r) => r.finishedAt);
  return {
    runId: unique(results.map((r) => r.runId)).join('+'),
    tool: { name: 'qhil', version: unique(results.map((r) => r.tool.version)).join(', ') },
    startedAt: results.map((r) => r.startedAt).sort()[0] ?? first.result.startedAt,
    finishedAt: finished.every((f): f is string => f !== undefined) ? finished.sort().at(-1) : undefined,
    // The runs may be days apart; their summed durations say how long testing took, the span would not.
    durationMs: results.reduce((ms, r) => ms + (r.durationMs ?? 0), 0),
    aborted: results.some((r) => r.aborted),
    outcome: combineOutcomes(results.map((r) => r.outcome)),
    exitCode: exitCodeOf(
      [
        ...results.flatMap((r) => r.boards.flatMap((board) => board.scenarios.map((scenario) => scenario.outcome))),
        // A run left RUNNING whose scenarios all ended is still unfinished: never exit 0 for it.
        ...results.filter(isUnfinished).map(() => 'RUNNING' as const),
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
  };
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
