import { createHash, randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { formatDurationMs } from '../core/duration.js';
import { errorMessage, faultOf, InfrastructureError, InputError } from '../core/errors.js';
import { queryReference, type ReferenceResult } from '../clock/reference.js';
import { keyFromConfig } from '../clock/sntp/keys.js';
import { EventLog, RESULT_JSON, writeFailure, writeRunReports } from '../report/index.js';
import { ResultSnapshot } from '../report/snapshot.js';
import { stepRegistry } from '../steps/index.js';
import type { StepDefinition, StepValue } from '../steps/step.js';
import { runStep, type StepEnvironment } from './attempt.js';
import { BoardSession, type BoardConnection, type OpenBoardOptions } from './boards.js';
import { hostLoad } from './host-load.js';
import { Gate } from '../core/gate.js';
import { identityProblem } from './identity.js';
import { checkRunnable, resolveStepArgs, selectScenarios, shardRecord, type ShardSpec } from './preflight.js';
import {
  combineOutcomes,
  exitCodeOf,
  type BoardResult,
  type BoardSpec,
  type Outcome,
  type ReferenceRecord,
  type ReferenceSpec,
  type RunEvent,
  type RunResult,
  type Scenario,
  type ScenarioResult,
  type StepResult,
  type StepSpec,
} from '../core/model.js';

export interface RunOptions {
  scenarios: Scenario[];
  boards: BoardSpec[];
  /** Folder that holds run folders (`reports/`). */
  outDir: string;
  runId?: string;
  /** Reference servers given on the command line; they win over the rig's and the scenario's. */
  reference?: ReferenceSpec;
  /** The rig's reference; wins over a scenario's own. */
  rigReference?: ReferenceSpec;
  /** Only scenarios carrying one of these tags run (all when empty). */
  tags?: string[];
  /** Stops the run cleanly: ports closed, the run marked aborted, everything measured so far written. */
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Called once the run folder exists, with a way to write result.json at once (a second Ctrl-C). */
  onStarted?: (run: StartedRun) => void;
  simHosts?: Record<string, string>;
  /** How long a reference answer may be reused by later compare steps. */
  referenceMaxAgeMs?: number;
  /** How long a retry waits for a vanished port to come back (USB re-enumeration). */
  reconnectWaitMs?: number;
  /** How a board is opened; tests give a fake board here. */
  openBoard?: (spec: BoardSpec, options: OpenBoardOptions) => Promise<BoardConnection>;
  /** Board leases (lock directory, how long to queue for a busy board); none when not given. */
  leases?: OpenBoardOptions['leases'];
  /** At most this many boards at once (`--concurrency`, the rig's `concurrency:`); default all. */
  concurrency?: number;
  /** Run only this shard's share of the board × scenario work (`--shard i/n`). */
  shard?: ShardSpec;
  /** How long opening a board may take before it is the rig's ERROR; tests shorten it. */
  openTimeoutMs?: number;
  /** How long closing a board's ports may take before the run stops waiting for it. */
  closeTimeoutMs?: number;
  /** How many simulated boards may boot at once (CPU work on this host); default twice the CPUs. */
  simBootsAtOnce?: number;
}

export interface StartedRun {
  runDir: string;
  /** Writes result.json synchronously as it stands (marked aborted): for a process about to exit. */
  flushNow(): void;
}

export interface RunOutput {
  result: RunResult;
  runDir: string;
  files: string[];
}

/** A shard's run id says which shard it is: the merged summary's per-run headings and CI artifacts show it. */
function newRunId(shard?: ShardSpec): string {
  const suffix = shard ? `-shard${shard.index}of${shard.count}` : '';
  return `${new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')}-${randomBytes(2).toString('hex')}${suffix}`;
}

function toolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Runs every scenario on every board (or the shard's share of them) and writes the reports: boards
 * in parallel, at most `concurrency` at once (queued boards start as others finish), scenarios in order.
 */
export async function runScenarios(options: RunOptions): Promise<RunOutput> {
  checkRunnable(options);
  if (options.concurrency !== undefined && !(Number.isInteger(options.concurrency) && options.concurrency >= 1)) {
    throw new InputError(`concurrency ${options.concurrency}: expected a whole number of boards, 1 or more`);
  }
  // Every board's step, reference wait and reconnect listens on the run's signal: many, by design.
  if (options.signal) setMaxListeners(16 + options.boards.length * 8, options.signal);
  const runId = options.runId ?? newRunId(options.shard);
  const runDir = join(options.outDir, runId);
  let events: EventLog;
  try {
    mkdirSync(runDir, { recursive: true });
    events = new EventLog(runDir);
  } catch (error) {
    // A read-only or full disk: nothing can be recorded, so nothing is run.
    throw error instanceof InfrastructureError ? error : writeFailure('create the run folder', runDir, error, runDir);
  }
  const startedAtMs = Date.now();
  const tags = options.tags ?? [];
  const scenarios = selectScenarios(options.scenarios, tags);
  const shard = options.shard ? shardRecord(options.boards, scenarios, options.shard) : undefined;
  /** The boards this run uses, each with the scenarios it runs on it: all, or the shard's share. */
  const work = options.boards
    .map((spec) => ({
      spec,
      scenarios: shard ? scenarios.filter((s) => shard.plan.some((w) => w.board === spec.id && w.scenario === s.name && w.shard === shard.index)) : scenarios,
    }))
    .filter((entry) => entry.scenarios.length > 0);
  // The record says RUNNING (and exit 3) until it is finished: a killed run never reads as a pass.
  const result: RunResult = {
    runId,
    tool: { name: 'qhil', version: toolVersion() },
    startedAt: new Date(startedAtMs).toISOString(),
    aborted: false,
    outcome: 'RUNNING',
    exitCode: 3,
    host: { hostname: hostname(), platform: `${process.platform}-${process.arch}`, node: process.version },
    tags,
    scenarios: scenarios.map((s) => ({ name: s.name, file: s.file, ...fileSha256(s.file) })),
    boards: work.map(({ spec }) => ({ id: spec.id, model: spec.model, ports: {}, transcripts: [], scenarios: [] })),
    references: [],
    ...(shard && { shard }),
  };
  const recordProblems: string[] = [];
  const recordProblem = (what: string, error: unknown): void => {
    const message = errorMessage(error);
    // The report writers' errors name their file already.
    const problem = message.includes(runDir) ? message : `${what}: ${message}`;
    if (recordProblems.includes(problem)) return;
    recordProblems.push(problem);
    options.onEvent?.({ type: 'log', at: new Date().toISOString(), level: 'error', message: problem });
  };
  let eventsOpen = true;
  const emit = (event: RunEvent): void => {
    if (eventsOpen) {
      try {
        events.append(event);
      } catch (error) {
        // A full disk or a vanished folder: the run goes on, but it cannot end as a trusted PASS.
        recordProblem(`cannot append to ${events.path}`, error);
      }
    }
    options.onEvent?.(event);
  };
  const resultFile = join(runDir, RESULT_JSON);
  /**
   * result.json says RUNNING from the start and follows the events (report/snapshot.ts): a run killed
   * at any moment (SIGKILL, a second Ctrl-C) leaves a record saying RUNNING, and events.jsonl holds
   * every finished step for `qhil report` to fold in.
   */
  const snapshot = new ResultSnapshot(resultFile, () => result, (error) => recordProblem(`cannot write ${resultFile}`, writeFailure('write', resultFile, error)));
  const saveResult = (): void => snapshot.request();
  let concluded = false;
  // A second Ctrl-C before the record is concluded leaves it RUNNING, marked aborted. After, the record
  // is whole but perhaps not yet on disk (the reports are written asynchronously): write it as it is,
  // or the process would exit leaving the last RUNNING snapshot that does not say it was stopped.
  options.onStarted?.({ runDir, flushNow: () => snapshot.writeNow(concluded ? result : { ...result, aborted: true }) });
  emit({ type: 'run-start', at: result.startedAt, runId, scenarios: scenarios.map((s) => s.name), boards: work.map((w) => w.spec.id) });
  try {
    snapshot.writeNow();
  } catch (error) {
    recordProblem(`cannot write ${resultFile}`, writeFailure('write', resultFile, error));
  }
  if (shard && work.length === 0) {
    emit({ type: 'log', at: new Date().toISOString(), level: 'info', message: `shard ${shard.index}/${shard.count} has no work: the run has only ${shard.plan.length} board × scenario pairs` });
  }

  const references = new ReferenceCache(options.referenceMaxAgeMs ?? 10_000, options.signal, (record, board) => {
    result.references.push(record);
    emit({ type: 'reference', at: new Date().toISOString(), board, record });
  });

  hostLoad.start();
  try {
    // Every board runs to its end whatever another does; a harness bug on one board is that board's ERROR.
    const simBoots = new Gate(options.simBootsAtOnce ?? Math.max(2, 2 * availableParallelism()));
    const context: BoardRunContext = { ...options, simBoots, runDir, emit, saveResult, references };
    const settled = await inParallel(work.length, options.concurrency ?? work.length, (index) => {
      const entry = work[index] as (typeof work)[number];
      return runBoard(entry.spec, result.boards[index] as BoardResult, entry.scenarios, context);
    });
    settled.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') return;
      const board = result.boards[index] as BoardResult;
      const boardScenarios = work[index]?.scenarios ?? scenarios;
      const message = `qhil itself failed on board ${board.id} (a bug, please report it): ${errorMessage(outcome.reason)}`;
      emit({ type: 'harness-bug', at: new Date().toISOString(), board: board.id, message, stack: (outcome.reason as Error | undefined)?.stack });
      for (const scenario of board.scenarios) {
        if (scenario.outcome === 'RUNNING') Object.assign(scenario, { outcome: 'ERROR', fault: 'harness', message });
      }
      if (board.scenarios.length === 0) board.scenarios.push(notRunResult(boardScenarios[0], board.id, 'ERROR', message, 'harness'));
    });
  } finally {
    hostLoad.stop();
  }
  const all = result.boards.flatMap((b) => b.scenarios.map((s) => s.outcome));
  result.aborted = options.signal?.aborted ?? false;
  /** A run whose record could not be kept whole is never a trusted PASS (exit 3 unless a FAIL stands). */
  const conclude = (): Outcome => {
    const combined = combineOutcomes(all);
    let outcome: Outcome = combined === 'RUNNING' ? 'ERROR' : combined;
    const untrusted = result.aborted || recordProblems.length > 0;
    if (untrusted && outcome === 'PASS') outcome = 'ERROR';
    result.outcome = outcome;
    result.exitCode = exitCodeOf(all, untrusted);
    if (recordProblems.length > 0) result.problems = [...recordProblems];
    return outcome;
  };
  const outcome = conclude();
  concluded = true;
  result.finishedAt = new Date().toISOString();
  result.durationMs = Date.now() - startedAtMs;
  emit({ type: 'run-end', at: result.finishedAt, outcome, aborted: result.aborted, exitCode: result.exitCode });
  snapshot.close();
  eventsOpen = false;
  try {
    events.close();
  } catch (error) {
    recordProblem(`cannot close ${events.path}`, error);
  }
  conclude();
  const files = await writeRunReports(runDir, result);
  return { result, runDir, files };
}

/**
 * Runs `task(0..count-1)` with at most `limit` at once, each next one starting as soon as one ends,
 * in order; settles like Promise.allSettled. One task's failure or slowness never stops another's start
 * beyond its own slot.
 */
async function inParallel(count: number, limit: number, task: (index: number) => Promise<void>): Promise<PromiseSettledResult<void>[]> {
  const settled: PromiseSettledResult<void>[] = new Array<PromiseSettledResult<void>>(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let index = next++; index < count; index = next++) {
      try {
        await task(index);
        settled[index] = { status: 'fulfilled', value: undefined };
      } catch (reason) {
        settled[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, lane));
  return settled;
}

function notRunResult(scenario: Scenario | undefined, board: string, outcome: Outcome, message: string, fault?: ScenarioResult['fault']): ScenarioResult {
  return {
    scenario: scenario?.name ?? '(none)',
    file: scenario?.file ?? '',
    board,
    outcome,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    message,
    fault: outcome === 'ERROR' ? fault : undefined,
    steps: [],
  };
}

interface BoardRunContext extends RunOptions {
  simBoots: Gate;
  runDir: string;
  emit: (event: RunEvent) => void;
  saveResult: () => void;
  references: ReferenceCache;
}

const IDENTIFY_TIMEOUT_MS = 15_000;

async function runBoard(spec: BoardSpec, boardResult: BoardResult, scenarios: Scenario[], ctx: BoardRunContext): Promise<void> {
  const notRun = (outcome: Outcome, message: string, fault?: ScenarioResult['fault']): void => {
    for (const scenario of scenarios) {
      const scenarioResult = notRunResult(scenario, spec.id, outcome, message, fault);
      boardResult.scenarios.push(scenarioResult);
      ctx.emit({ type: 'scenario-end', at: scenarioResult.startedAt, board: spec.id, result: scenarioResult });
    }
    ctx.saveResult();
  };
  if (ctx.signal?.aborted) {
    notRun('SKIP', 'the run was stopped before this board started');
    return;
  }
  // Booting a simulated board is CPU work on this host: a few at a time, so that 128 of them do not
  // each take 128 times as long (and miss their boot deadline) while the first could be testing.
  const releaseBoot = spec.sim ? (await ctx.simBoots.acquire(ctx.signal)).release : () => undefined;
  if (ctx.signal?.aborted) {
    releaseBoot();
    notRun('SKIP', 'the run was stopped before this board started');
    return;
  }
  let session: BoardConnection;
  try {
    const open = ctx.openBoard ?? ((board: BoardSpec, options: OpenBoardOptions) => BoardSession.open(board, options));
    // Opening includes queueing for a board another run holds (--wait): that time is not the rig's slowness.
    const openTimeoutMs = (ctx.openTimeoutMs ?? OPEN_TIMEOUT_MS) + (ctx.leases?.waitMs ?? 0);
    session = await withinDeadline(
      (signal) =>
        open(spec, {
          runDir: ctx.runDir,
          simHosts: ctx.simHosts,
          signal,
          leases: ctx.leases,
          onNote: (message) => {
            // A lease taken over from a dead or expired holder, or one lost to --kick: the record says so.
            (boardResult.notes ??= []).push(message);
            ctx.emit({ type: 'log', at: new Date().toISOString(), board: spec.id, level: 'warn', message });
          },
        }),
      openTimeoutMs,
      ctx.signal,
      `opening the board took longer than ${formatDurationMs(openTimeoutMs)}`,
      (late) => void late.close().catch(() => undefined),
    );
  } catch (error) {
    const fault = faultOf(error);
    const message =
      fault === 'harness'
        ? `qhil itself failed opening board ${spec.id} (a bug, please report it): ${errorMessage(error)}`
        : `board ${spec.id} could not be opened: ${errorMessage(error)}`;
    if (fault === 'harness') ctx.emit({ type: 'harness-bug', at: new Date().toISOString(), board: spec.id, message, stack: (error as Error).stack });
    else ctx.emit({ type: 'log', at: new Date().toISOString(), board: spec.id, level: 'error', message: errorMessage(error) });
    releaseBoot();
    notRun('ERROR', message, fault === 'board' ? 'rig' : fault);
    return;
  }
  boardResult.ports = session.ports;
  boardResult.transcripts = session.transcripts;
  try {
    try {
      boardResult.identity = await session.board.identify(IDENTIFY_TIMEOUT_MS, ctx.signal);
      if (boardResult.identity?.model && !boardResult.model) boardResult.model = boardResult.identity.model;
    } catch (error) {
      // A board that cannot say who it is still gets tested; the report says why it is anonymous.
      ctx.emit({ type: 'log', at: new Date().toISOString(), board: spec.id, level: 'warn', message: `identify failed: ${errorMessage(error)}` });
    } finally {
      releaseBoot();
    }
    // A pinned board that says it is another (a swapped module, a re-enumerated port) runs nothing.
    const wrongBoard = identityProblem(session.spec, boardResult.identity, session.ports.at ?? session.ports.repl ?? spec.id);
    if (wrongBoard) {
      ctx.emit({ type: 'log', at: new Date().toISOString(), board: spec.id, level: 'error', message: wrongBoard });
      notRun('ERROR', wrongBoard, 'rig');
      return;
    }
    ctx.emit({ type: 'board-ready', at: new Date().toISOString(), board: spec.id, identity: boardResult.identity, ports: session.ports });
    for (const scenario of scenarios) {
      if (ctx.signal?.aborted) {
        const skipped = notRunResult(scenario, spec.id, 'SKIP', 'the run was stopped');
        boardResult.scenarios.push(skipped);
        ctx.emit({ type: 'scenario-end', at: skipped.startedAt, board: spec.id, result: skipped });
        continue;
      }
      await runScenario(session, scenario, boardResult, ctx);
    }
  } finally {
    // A close that hangs (a wedged USB driver) must not keep the board's slot from the next board.
    await withinDeadline(() => session.close(), ctx.closeTimeoutMs ?? CLOSE_TIMEOUT_MS, undefined, `closing the ports took longer than ${formatDurationMs(ctx.closeTimeoutMs ?? CLOSE_TIMEOUT_MS)}; left to finish on their own`).catch(
      (error: unknown) => ctx.emit({ type: 'log', at: new Date().toISOString(), board: spec.id, level: 'warn', message: `closing the ports: ${errorMessage(error)}` }),
    );
    ctx.saveResult();
  }
}

/** A board's open has this long (128 simulated boards booting on 2 cores take tens of seconds). */
const OPEN_TIMEOUT_MS = 180_000;

/** The sha256 of a scenario file as the run found it (it was just loaded from there); none for in-memory scenarios. */
function fileSha256(file: string): { sha256?: string } {
  try {
    return { sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
  } catch {
    return {};
  }
}
const CLOSE_TIMEOUT_MS = 15_000;

/**
 * `work`, or an InfrastructureError saying `why` once `limitMs` has passed (or the run's signal's
 * reason): the work's own signal is aborted then, and what it still delivers goes to `late`.
 */
async function withinDeadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  limitMs: number,
  runSignal: AbortSignal | undefined,
  why: string,
  late?: (value: T) => void,
): Promise<T> {
  const controller = new AbortController();
  const onRunAbort = (): void => controller.abort(runSignal?.reason);
  if (runSignal?.aborted) onRunAbort();
  else runSignal?.addEventListener('abort', onRunAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const pending = work(controller.signal);
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      expired = true;
      controller.abort(new InfrastructureError(why));
      reject(new InfrastructureError(why));
    }, limitMs);
  });
  try {
    return await Promise.race([pending, deadline]);
  } finally {
    clearTimeout(timer);
    runSignal?.removeEventListener('abort', onRunAbort);
    if (expired) pending.then((value) => late?.(value), () => undefined);
  }
}

const TRANSCRIPT_TAIL_LINES = 20;
const TRANSCRIPT_TAIL_BYTES = 16 * 1024;

/** The last lines of a board's transcripts, kept with a failing step so a report shows what was said. */
function transcriptTail(runDir: string, transcripts: string[]): string {
  return transcripts
    .map((relative) => {
      try {
        const text = readTail(join(runDir, relative), TRANSCRIPT_TAIL_BYTES);
        const lines = text.trimEnd().split('\n');
        return `--- ${relative} (last ${Math.min(lines.length, TRANSCRIPT_TAIL_LINES)} lines)\n${lines.slice(-TRANSCRIPT_TAIL_LINES).join('\n')}`;
      } catch {
        return `--- ${relative}: not readable`;
      }
    })
    .join('\n');
}

/** The last `bytes` of a file, without reading a flooded transcript whole. */
function readTail(file: string, bytes: number): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(bytes, size));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    return tail.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

async function runScenario(session: BoardConnection, scenario: Scenario, boardResult: BoardResult, ctx: BoardRunContext): Promise<void> {
  const boardId = session.spec.id;
  const startedAtMs = Date.now();
  const scenarioStart = performance.now();
  const scenarioResult: ScenarioResult = {
    scenario: scenario.name,
    file: scenario.file,
    board: boardId,
    outcome: 'RUNNING',
    startedAt: new Date(startedAtMs).toISOString(),
    durationMs: 0,
    steps: [],
  };
  boardResult.scenarios.push(scenarioResult);
  ctx.emit({ type: 'scenario-start', at: scenarioResult.startedAt, board: boardId, scenario: scenario.name });
  const values = new Map<string, StepValue>();
  // The command line wins, then the rig (the lab knows its time servers), then the scenario's own.
  const reference = ctx.reference ?? ctx.rigReference ?? scenario.reference;
  let stopReason: string | undefined;
  const log = (message: string): void => ctx.emit({ type: 'log', at: new Date().toISOString(), board: boardId, level: 'info', message });
  const environment: StepEnvironment = {
    // Read anew every time: a reconnect replaces the board object over fresh channels.
    get board() {
      return session.board;
    },
    values,
    reference,
    queryReference: (signal, options) => {
      if (!reference) throw new InputError('no reference servers configured');
      return ctx.references.get(reference, boardId, signal, options?.fresh === true);
    },
    bytesFromBoard: () => session.bytesReceived(),
    boardOnHost: session.onHost,
    needsReconnect: () => session.disconnected,
    reconnect: (waitMs, signal) => session.reconnect(waitMs, signal),
    reconnectWaitMs: ctx.reconnectWaitMs ?? 30_000,
    hostStallMs: (fromMs, toMs) => hostLoad.maxStallMs(fromMs, toMs),
    runSignal: ctx.signal,
    log,
    lifecycle: session.lifecycle,
  };

  for (const spec of scenario.steps) {
    const stepStart = new Date();
    const stepResult: StepResult = {
      index: spec.index,
      kind: spec.kind,
      title: spec.kind,
      outcome: 'SKIP',
      startedAt: stepStart.toISOString(),
      durationMs: 0,
      attempts: 0,
      measurements: [],
      data: {},
      location: spec.location,
    };
    if (stopReason || ctx.signal?.aborted) {
      stepResult.message = ctx.signal?.aborted ? 'not run: the run was stopped' : `not run: ${stopReason}`;
      scenarioResult.steps.push(stepResult);
      ctx.emit({ type: 'step-end', at: stepResult.startedAt, board: boardId, scenario: scenario.name, result: stepResult });
      continue;
    }
    const stepT0 = performance.now();
    const elu0 = performance.eventLoopUtilization();
    try {
      const definition = stepRegistry.get(spec.kind);
      if (!definition) throw new InputError(`unknown step kind ${spec.kind}`, spec.location);
      const args = resolveStepArgs(spec, definition, session.spec) as Record<string, unknown> & { retries?: number; timeoutMs?: number };
      stepResult.title = safeDescribe(definition, args, spec);
      scenarioResult.current = { index: spec.index, title: stepResult.title, startedAt: stepResult.startedAt };
      // result.json first (at once on a small rig, report/snapshot.ts), then the durable event.
      ctx.saveResult();
      ctx.emit({ type: 'step-start', at: stepResult.startedAt, board: boardId, scenario: scenario.name, index: spec.index, kind: spec.kind, title: stepResult.title });
      const outcome = await runStep(
        definition,
        args,
        environment,
        {
          stepLimitMs: args.timeoutMs ?? definition.defaultTimeoutMs,
          scenarioDeadlineMs: scenarioStart + scenario.timeoutMs,
          scenarioLabel: `scenario ${scenario.name} (timeout ${formatDurationMs(scenario.timeoutMs)})`,
          stepLabel: `step ${stepResult.title}`,
          retries: typeof args.retries === 'number' ? args.retries : 0,
        },
        (attempt, verdict) =>
          ctx.emit({ type: 'step-retry', at: new Date().toISOString(), board: boardId, scenario: scenario.name, index: spec.index, attempt, message: verdict.message }),
      );
      Object.assign(stepResult, {
        outcome: outcome.outcome,
        fault: outcome.fault,
        message: outcome.message,
        measurements: outcome.measurements,
        data: outcome.data,
        attempts: outcome.attempts,
      });
      if (outcome.harnessBug) {
        ctx.emit({ type: 'harness-bug', at: new Date().toISOString(), board: boardId, scenario: scenario.name, index: spec.index, ...outcome.harnessBug });
      }
    } catch (error) {
      // Only resolving the step's arguments can throw here (a bad ${board.x} on this board), or a bug.
      const fault = faultOf(error);
      stepResult.outcome = fault === 'board' ? 'FAIL' : 'ERROR';
      stepResult.fault = fault;
      stepResult.message = errorMessage(error);
      if (fault === 'harness') {
        ctx.emit({ type: 'harness-bug', at: new Date().toISOString(), board: boardId, scenario: scenario.name, index: spec.index, message: errorMessage(error), stack: (error as Error).stack });
      }
    }
    stepResult.durationMs = Math.round(performance.now() - stepT0);
    // The event loop's busy time is the harness's own work; the simulated board runs in other threads.
    stepResult.harnessMs = Math.round(performance.eventLoopUtilization(elu0).active * 100) / 100;
    if (stepResult.outcome === 'FAIL' || stepResult.outcome === 'ERROR') {
      stepResult.data.transcriptTail = transcriptTail(ctx.runDir, session.transcripts);
      stopReason = `step ${spec.index + 1} (${stepResult.title}) ${stepResult.outcome === 'FAIL' ? 'failed' : 'erred'}`;
    }
    scenarioResult.current = undefined;
    scenarioResult.steps.push(stepResult);
    ctx.saveResult();
    ctx.emit({ type: 'step-end', at: new Date().toISOString(), board: boardId, scenario: scenario.name, result: stepResult });
  }
  scenarioResult.durationMs = Date.now() - startedAtMs;
  let outcome = combineOutcomes(scenarioResult.steps.map((s) => s.outcome).filter((o) => o !== 'SKIP'));
  if (ctx.signal?.aborted && outcome === 'PASS') outcome = 'ERROR';
  const deciding = scenarioResult.steps.find((s) => s.outcome === outcome && s.outcome !== 'PASS');
  if (deciding) {
    scenarioResult.message = `step ${deciding.index + 1} ${deciding.title}: ${deciding.message ?? deciding.outcome}`;
    scenarioResult.fault = deciding.fault;
  } else if (outcome === 'ERROR') {
    scenarioResult.message = 'the run was stopped before this scenario finished';
    scenarioResult.fault = 'rig';
  }
  // Set last: the record is finished only now.
  scenarioResult.outcome = outcome;
  ctx.saveResult();
  ctx.emit({ type: 'scenario-end', at: new Date().toISOString(), board: boardId, result: scenarioResult });
}

function safeDescribe(definition: StepDefinition, args: unknown, spec: StepSpec): string {
  try {
    return (definition.describe as (a: unknown) => string)(args);
  } catch {
    return spec.kind;
  }
}

/**
 * Reference answers, shared by all boards of a run and reused for a few seconds: comparisons
 * running at the same moment need not each ask the servers, and the offset maths allows for the age.
 */
class ReferenceCache {
  private cached: { key: string; at: number; result: Promise<ReferenceResult> } | undefined;

  constructor(
    private readonly maxAgeMs: number,
    /** The run's own signal, not a step's: the answer is shared by every board, but a stopped run stops asking. */
    private readonly runSignal: AbortSignal | undefined,
    private readonly record: (record: ReferenceRecord, board: string) => void,
  ) {}

  /** `signal` is the asking step's: it stops waiting for the answer, not the shared query itself. */
  get(spec: ReferenceSpec, board: string, signal?: AbortSignal, fresh = false): Promise<ReferenceResult> {
    return abortable(this.shared(spec, board, fresh), signal);
  }

  private shared(spec: ReferenceSpec, board: string, fresh: boolean): Promise<ReferenceResult> {
    const key = JSON.stringify(spec);
    const now = performance.now();
    if (!fresh && this.cached && this.cached.key === key && now - this.cached.at < this.maxAgeMs) return this.cached.result;
    const result = queryReference({
      servers: spec.servers,
      samples: spec.samples,
      timeoutMs: spec.timeoutMs,
      keys: spec.keys.map((k) => keyFromConfig(k)),
      signal: this.runSignal,
    }).then((answer) => {
      this.record(
        {
          servers: spec.servers,
          offsetMs: answer.offsetMs,
          uncertaintyMs: answer.uncertaintyMs,
          measuredAt: new Date(answer.measuredAtHostMs).toISOString(),
          detail: answer,
        },
        board,
      );
      return answer;
    });
    this.cached = { key, at: now, result };
    result.catch(() => {
      if (this.cached?.result === result) this.cached = undefined;
    });
    return result;
  }
}

/** `work`, or the signal's reason as soon as `signal` aborts. */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
