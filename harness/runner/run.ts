import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BoardError, errorMessage, InfrastructureError, InputError, outcomeOfError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import { queryReference, type ReferenceResult } from '../clock/reference.js';
import { keyFromConfig } from '../clock/sntp/keys.js';
import { EventLog, writeResultJson, writeRunReports } from '../report/index.js';

import { stepRegistry } from '../steps/index.js';
import type { StepContext, StepDefinition, StepReport, StepValue } from '../steps/step.js';
import { BoardSession } from './boards.js';
import { checkRunnable, resolveStepArgs, selectScenarios } from './preflight.js';
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
  simHosts?: Record<string, string>;
  /** How long a reference answer may be reused by later compare steps. */
  referenceMaxAgeMs?: number;
  /** How long a retry waits for a vanished port to come back (USB re-enumeration). */
  reconnectWaitMs?: number;
}

export interface RunOutput {
  result: RunResult;
  runDir: string;
  files: string[];
}

function newRunId(): string {
  return `${new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

function toolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs every scenario on every board (boards in parallel, scenarios in order) and writes the reports. */
export async function runScenarios(options: RunOptions): Promise<RunOutput> {
  checkRunnable(options);
  const runId = options.runId ?? newRunId();
  const runDir = join(options.outDir, runId);
  mkdirSync(runDir, { recursive: true });
  const events = new EventLog(runDir);
  const startedAtMs = Date.now();
  const tags = options.tags ?? [];
  const scenarios = selectScenarios(options.scenarios, tags);
  const result: RunResult = {
    runId,
    tool: { name: 'qhil', version: toolVersion() },
    startedAt: new Date(startedAtMs).toISOString(),
    aborted: false,
    outcome: 'PASS',
    exitCode: 0,
    host: { hostname: hostname(), platform: `${process.platform}-${process.arch}`, node: process.version },
    tags,
    scenarios: scenarios.map((s) => ({ name: s.name, file: s.file })),
    boards: options.boards.map((spec) => ({ id: spec.id, model: spec.model, ports: {}, transcripts: [], scenarios: [] })),
    references: [],
  };
  let writing: Promise<unknown> = Promise.resolve();
  let eventsOpen = true;
  const emit = (event: RunEvent): void => {
    if (eventsOpen) events.append(event);
    options.onEvent?.(event);
  };
  /** result.json is rewritten after every step, atomically, so an interrupted run still has one. */
  const saveResult = (): void => {
    const snapshot = structuredClone(result);
    writing = writing.then(() => writeResultJson(runDir, snapshot)).catch(() => undefined);
  };
  emit({ type: 'run-start', at: result.startedAt, runId, scenarios: scenarios.map((s) => s.name), boards: options.boards.map((b) => b.id) });
  saveResult();

  const references = new ReferenceCache(options.referenceMaxAgeMs ?? 10_000, options.signal, (record, board) => {
    result.references.push(record);
    emit({ type: 'reference', at: new Date().toISOString(), board, record });
  });

  // Every board runs to its end whatever another does; a harness bug on one board is that board's ERROR.
  const settled = await Promise.allSettled(
    options.boards.map((spec, index) =>
      runBoard(spec, result.boards[index] as BoardResult, scenarios, { ...options, runDir, emit, saveResult, references }),
    ),
  );
  settled.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') return;
    const board = result.boards[index] as BoardResult;
    const message = `harness error on board ${board.id}: ${errorMessage(outcome.reason)}`;
    emit({ type: 'log', at: new Date().toISOString(), board: board.id, level: 'error', message });
    for (const scenario of board.scenarios) if (scenario.outcome === 'PASS') scenario.outcome = 'ERROR';
    if (board.scenarios.length === 0) board.scenarios.push(notRunResult(scenarios[0], board.id, 'ERROR', message));
  });
  const all = result.boards.flatMap((b) => b.scenarios.map((s) => s.outcome));
  result.aborted = options.signal?.aborted ?? false;
  result.outcome = combineOutcomes(all);
  if (result.aborted && result.outcome === 'PASS') result.outcome = 'ERROR';
  result.exitCode = exitCodeOf(all, result.aborted);
  result.finishedAt = new Date().toISOString();
  result.durationMs = Date.now() - startedAtMs;
  emit({ type: 'run-end', at: result.finishedAt, outcome: result.outcome, aborted: result.aborted, exitCode: result.exitCode });
  eventsOpen = false;
  events.close();
  await writing;
  const files = await writeRunReports(runDir, result);
  return { result, runDir, files };
}

function notRunResult(scenario: Scenario | undefined, board: string, outcome: Outcome, message: string): ScenarioResult {
  return {
    scenario: scenario?.name ?? '(none)',
    file: scenario?.file ?? '',
    board,
    outcome,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    message,
    steps: [],
  };
}

interface BoardRunContext extends RunOptions {
  runDir: string;
  emit: (event: RunEvent) => void;
  saveResult: () => void;
  references: ReferenceCache;
}

async function runBoard(spec: BoardSpec, boardResult: BoardResult, scenarios: Scenario[], ctx: BoardRunContext): Promise<void> {
  const notRun = (outcome: Outcome, message: string): void => {
    for (const scenario of scenarios) {
      const scenarioResult = notRunResult(scenario, spec.id, outcome, message);
      boardResult.scenarios.push(scenarioResult);
      ctx.emit({ type: 'scenario-end', at: scenarioResult.startedAt, board: spec.id, result: scenarioResult });
    }
    ctx.saveResult();
  };
  if (ctx.signal?.aborted) {
    notRun('SKIP', 'the run was stopped before this board started');
    return;
  }
  let session: BoardSession;
  try {
    session = await BoardSession.open(spec, { runDir: ctx.runDir, simHosts: ctx.simHosts });
  } catch (error) {
    ctx.emit({ type: 'log', at: new Date().toISOString(), board: spec.id, level: 'error', message: errorMessage(error) });
    notRun('ERROR', `board ${spec.id} could not be opened: ${errorMessage(error)}`);
    return;
  }
  boardResult.ports = session.ports;
  boardResult.transcripts = session.transcripts;
  try {
    try {
      boardResult.identity = await session.board.identify(15_000);
      if (boardResult.identity?.model && !boardResult.model) boardResult.model = boardResult.identity.model;
    } catch (error) {
      // A board that cannot say who it is still gets tested; the report says why it is anonymous.
      ctx.emit({ type: 'log', at: new Date().toISOString(), board: spec.id, level: 'warn', message: `identify failed: ${errorMessage(error)}` });
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
    await session.close();
    ctx.saveResult();
  }
}

class StepTimeoutError extends BoardError {
  constructor(what: string, limitMs: number) {
    super(`${what} did not finish within ${Math.round(limitMs)}ms`);
    this.name = 'StepTimeoutError';
  }
}

class AbortedError extends InfrastructureError {
  constructor() {
    super('the run was stopped (SIGINT/SIGTERM) during this step');
    this.name = 'AbortedError';
  }
}

const TRANSCRIPT_TAIL_LINES = 20;

/** The last lines of a board's transcripts, kept with a failing step so a report shows what was said. */
function transcriptTail(runDir: string, transcripts: string[]): string {
  return transcripts
    .map((relative) => {
      try {
        const lines = readFileSync(join(runDir, relative), 'utf8').trimEnd().split('\n');
        return `--- ${relative} (last ${Math.min(lines.length, TRANSCRIPT_TAIL_LINES)} lines)\n${lines.slice(-TRANSCRIPT_TAIL_LINES).join('\n')}`;
      } catch {
        return `--- ${relative}: not readable`;
      }
    })
    .join('\n');
}

async function runScenario(session: BoardSession, scenario: Scenario, boardResult: BoardResult, ctx: BoardRunContext): Promise<void> {
  const boardId = session.spec.id;
  const startedAtMs = Date.now();
  const scenarioStart = performance.now();
  const scenarioResult: ScenarioResult = {
    scenario: scenario.name,
    file: scenario.file,
    board: boardId,
    outcome: 'PASS',
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
      ctx.emit({ type: 'step-start', at: stepResult.startedAt, board: boardId, scenario: scenario.name, index: spec.index, kind: spec.kind, title: stepResult.title });
      const retries = typeof args.retries === 'number' ? args.retries : 0;
      for (let attempt = 1; ; attempt++) {
        stepResult.attempts = attempt;
        const scenarioLeftMs = scenario.timeoutMs - (performance.now() - scenarioStart);
        const stepLimitMs = args.timeoutMs ?? definition.defaultTimeoutMs;
        const attemptLimitMs = Math.max(1, Math.min(stepLimitMs, scenarioLeftMs));
        const report = await runAttempt(definition, args, {
          session,
          values,
          reference,
          limitMs: attemptLimitMs,
          limitLabel: scenarioLeftMs < stepLimitMs ? `scenario ${scenario.name} (timeout ${scenario.timeoutMs}ms)` : `step ${stepResult.title}`,
          runSignal: ctx.signal,
          references: ctx.references,
          boardId,
          reconnectWaitMs: ctx.reconnectWaitMs ?? 30_000,
          log: (message) => ctx.emit({ type: 'log', at: new Date().toISOString(), board: boardId, level: 'info', message }),
        });
        stepResult.outcome = report.outcome;
        stepResult.message = report.message;
        stepResult.measurements = report.measurements ?? [];
        stepResult.data = report.data ?? {};
        if (report.outcome !== 'ERROR' || attempt > retries || ctx.signal?.aborted) break;
        // Only the rig's errors are retried: a board that answered wrongly would answer wrongly again.
        ctx.emit({ type: 'step-retry', at: new Date().toISOString(), board: boardId, scenario: scenario.name, index: spec.index, attempt, message: report.message ?? '' });
        await sleep(Math.min(2000, 250 * 2 ** (attempt - 1)), ctx.signal);
      }
    } catch (error) {
      stepResult.outcome = error instanceof InputError ? 'ERROR' : outcomeOfError(error);
      stepResult.message = errorMessage(error);
    }
    stepResult.durationMs = Math.round(performance.now() - stepT0);
    // The event loop's busy time is the harness's own work; the simulated board runs in other threads.
    stepResult.harnessMs = Math.round(performance.eventLoopUtilization(elu0).active * 100) / 100;
    if (stepResult.outcome === 'FAIL' || stepResult.outcome === 'ERROR') {
      stepResult.data.transcriptTail = transcriptTail(ctx.runDir, session.transcripts);
      stopReason = `step ${spec.index + 1} (${stepResult.title}) ${stepResult.outcome === 'FAIL' ? 'failed' : 'erred'}`;
    }
    scenarioResult.steps.push(stepResult);
    ctx.emit({ type: 'step-end', at: new Date().toISOString(), board: boardId, scenario: scenario.name, result: stepResult });
    ctx.saveResult();
  }
  scenarioResult.durationMs = Date.now() - startedAtMs;
  scenarioResult.outcome = combineOutcomes(scenarioResult.steps.map((s) => s.outcome).filter((o) => o !== 'SKIP'));
  if (ctx.signal?.aborted && scenarioResult.outcome === 'PASS') scenarioResult.outcome = 'ERROR';
  const deciding = scenarioResult.steps.find((s) => s.outcome === scenarioResult.outcome && s.outcome !== 'PASS');
  if (deciding) scenarioResult.message = `step ${deciding.index + 1} ${deciding.title}: ${deciding.message ?? deciding.outcome}`;
  ctx.emit({ type: 'scenario-end', at: new Date().toISOString(), board: boardId, result: scenarioResult });
  ctx.saveResult();
}

function safeDescribe(definition: StepDefinition, args: unknown, spec: StepSpec): string {
  try {
    return (definition.describe as (a: unknown) => string)(args);
  } catch {
    return spec.kind;
  }
}

interface AttemptContext {
  session: BoardSession;
  values: Map<string, StepValue>;
  reference: ReferenceSpec | undefined;
  limitMs: number;
  limitLabel: string;
  runSignal?: AbortSignal;
  references: ReferenceCache;
  boardId: string;
  reconnectWaitMs: number;
  log: (message: string) => void;
}

type AttemptOutcome = Required<Pick<StepReport, 'outcome'>> & StepReport;

/** One attempt of a step, bounded by its deadline however the step behaves. */
async function runAttempt(definition: StepDefinition, args: unknown, attempt: AttemptContext): Promise<AttemptOutcome> {
  const controller = new AbortController();
  const startedAt = performance.now();
  const onRunAbort = (): void => controller.abort(new AbortedError());
  attempt.runSignal?.addEventListener('abort', onRunAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new StepTimeoutError(attempt.limitLabel, attempt.limitMs);
      controller.abort(error);
      reject(error);
    }, attempt.limitMs);
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason instanceof Error ? controller.signal.reason : new AbortedError()), {
      once: true,
    });
  });
  deadline.catch(() => undefined);
  const timeLeftMs = (): number => Math.max(1, attempt.limitMs - (performance.now() - startedAt));
  try {
    if (attempt.runSignal?.aborted) throw new AbortedError();
    // A port that vanished (a reboot re-enumerating USB) is opened again before the step uses it.
    if (attempt.session.disconnected) {
      attempt.log(`a port of board ${attempt.boardId} closed; opening it again`);
      await Promise.race([attempt.session.reconnect(Math.min(attempt.reconnectWaitMs, timeLeftMs())), deadline]);
    }
    const context: StepContext = {
      board: attempt.session.board,
      values: attempt.values,
      reference: attempt.reference,
      signal: controller.signal,
      timeLeftMs,
      queryReference: () => {
        if (!attempt.reference) throw new InputError('no reference servers configured');
        return attempt.references.get(attempt.reference, attempt.boardId);
      },
      log: attempt.log,
    };
    const report = await Promise.race([definition.run(context, args as never), deadline]);
    const failedMeasurement = report.measurements?.some((m) => m.outcome === 'FAIL');
    return { ...report, outcome: report.outcome ?? (failedMeasurement ? 'FAIL' : 'PASS') };
  } catch (error) {
    const outcome = error instanceof InputError ? 'ERROR' : outcomeOfError(error);
    return { outcome, message: errorMessage(error) };
  } finally {
    clearTimeout(timer);
    attempt.runSignal?.removeEventListener('abort', onRunAbort);
    if (!controller.signal.aborted) controller.abort(new Error('step finished'));
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

  get(spec: ReferenceSpec, board: string): Promise<ReferenceResult> {
    const key = JSON.stringify(spec);
    const now = performance.now();
    if (this.cached && this.cached.key === key && now - this.cached.at < this.maxAgeMs) return this.cached.result;
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
