import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { formatDurationMs } from '../core/duration.js';
import { errorMessage, InfrastructureError, TimeoutError, type Fault } from '../core/errors.js';
import type { Measurement, Outcome, ReferenceSpec } from '../core/model.js';
import { sleep } from '../core/sleep.js';
import type { ReferenceResult } from '../clock/reference.js';
import type { BoardLifecycle, StepBoard, StepContext, StepDefinition, StepValue } from '../steps/step.js';
import { cpuPressureTotalUs } from './host-load.js';
import { classifyFailure, type AttemptEvidence, type AttemptPhase, type Verdict } from './verdict.js';

/**
 * One step, start to end: its attempts, each bounded by its deadline however the step behaves; the
 * evidence gathered while it runs; whose fault a failure is (verdict.ts); and the retry rule (only
 * the rig's errors, with back-off, never past the scenario's deadline). The runner calls this for
 * every step and knows nothing of step kinds.
 */

/** What a step runs against: the board, the run's shared state, and the evidence sources. */
export interface StepEnvironment {
  board: StepBoard;
  values: Map<string, StepValue>;
  reference: ReferenceSpec | undefined;
  /** Asks the reference clock (shared and cached across boards by the runner). */
  queryReference(signal: AbortSignal, options?: { fresh?: boolean }): Promise<ReferenceResult>;
  /** Bytes the board has sent so far, all ports (a counter that only grows). */
  bytesFromBoard(): number;
  /** The board runs on this host (simulated): a starved host starves it too. */
  boardOnHost: boolean;
  /** True when a port vanished and must be opened again before the board is used. */
  needsReconnect(): boolean;
  reconnect(waitMs: number, signal: AbortSignal): Promise<void>;
  /** How long a retry waits for a vanished port to come back. */
  reconnectWaitMs: number;
  /** The longest stall of the host's event loop between two host monotonic instants. */
  hostStallMs(fromMs: number, toMs: number): number;
  /** The run's own signal: a stopped run stops the step and is never retried. */
  runSignal?: AbortSignal;
  log(message: string): void;
  /** The board's power switch and return, for `power-cycle` and `reset`. */
  lifecycle?: BoardLifecycle;
}

export interface StepLimits {
  /** The step's per-attempt timeout, ms. */
  stepLimitMs: number;
  /** Host monotonic ms by which the scenario must end. */
  scenarioDeadlineMs: number;
  /** "scenario ntp-sync (timeout 5m)" and "step sync via repl", for messages. */
  scenarioLabel: string;
  stepLabel: string;
  retries: number;
}

export interface StepOutcome {
  outcome: Outcome;
  fault?: Fault;
  message?: string;
  measurements: Measurement[];
  data: Record<string, unknown>;
  attempts: number;
  /** Time the step waited on the board, the network or timers, by its own account. */
  waitedMs?: number;
  /** Set when qhil itself failed: the stack, for events.jsonl. */
  harnessBug?: { message: string; stack?: string };
}

/** The step ran past its deadline. Not a fault class by itself: the evidence decides (verdict.ts). */
export class StepTimeoutError extends TimeoutError {
  constructor(what: string, limitMs: number) {
    super(`${what} did not finish within ${formatDurationMs(limitMs)}`);
    this.name = 'StepTimeoutError';
  }
}

/** The run was stopped (a signal) while the step ran. */
export class RunStoppedError extends InfrastructureError {
  constructor() {
    super('the run was stopped (SIGINT/SIGTERM/SIGHUP) during this step');
    this.name = 'RunStoppedError';
  }
}

const MAX_BACKOFF_MS = 2000;
/**
 * A step is told its limit (`timeLeftMs`) and ends itself then, with its own, more precise error
 * ("not registered within 5s: +CEREG: 0,2"); the runner stops it this much later only if it did not.
 */
export const HARD_STOP_GRACE_MS = 250;

export async function runStep(
  definition: StepDefinition,
  args: Record<string, unknown>,
  env: StepEnvironment,
  limits: StepLimits,
  onRetry: (attempt: number, verdict: Verdict) => void = () => undefined,
): Promise<StepOutcome> {
  let previous: StepOutcome | undefined;
  for (let attempt = 1; ; attempt++) {
    const scenarioLeftMs = limits.scenarioDeadlineMs - performance.now();
    // The scenario's time ran out while waiting to retry: the last attempt's error is the answer.
    if (scenarioLeftMs <= 0 && previous) return { ...previous, message: `${previous.message ?? ''}; no time left in ${limits.scenarioLabel} to try again` };
    if (scenarioLeftMs <= 0) {
      return {
        outcome: 'ERROR',
        fault: 'input',
        message: `${limits.scenarioLabel} was used up before this step ${attempt === 1 ? 'could start' : `could be tried again (attempt ${attempt})`}: give the scenario a longer timeout`,
        measurements: [],
        data: {},
        attempts: attempt - 1,
      };
    }
    const limitedByScenario = scenarioLeftMs < limits.stepLimitMs;
    const result = await runAttempt(definition, args, env, {
      limitMs: Math.min(limits.stepLimitMs, scenarioLeftMs),
      limitLabel: limitedByScenario ? limits.scenarioLabel : limits.stepLabel,
    });
    if (result.kind === 'done') return { ...result.outcome, attempts: attempt };
    const { verdict } = result;
    const out: StepOutcome = {
      outcome: verdict.outcome,
      fault: verdict.fault,
      message: verdict.message,
      measurements: [],
      data: {},
      attempts: attempt,
      harnessBug: verdict.fault === 'harness' ? { message: errorMessage(result.error), stack: (result.error as Error | undefined)?.stack } : undefined,
    };
    if (!verdict.retryable || attempt > limits.retries || env.runSignal?.aborted) return out;
    previous = out;
    onRetry(attempt, verdict);
    const backoffMs = Math.min(MAX_BACKOFF_MS, 250 * 2 ** (attempt - 1), Math.max(0, limits.scenarioDeadlineMs - performance.now()));
    await sleep(backoffMs, env.runSignal);
    if (env.runSignal?.aborted) return out;
  }
}

/** CPU time used (µs, all threads) as a share of every core's time over `elapsedMs`. */
function cpuShare(used: NodeJS.CpuUsage, elapsedMs: number): number {
  if (elapsedMs <= 0) return 0;
  return (used.user + used.system) / 1000 / (elapsedMs * availableParallelism());
}

/** The share of `elapsedMs` some task waited for a CPU, from Linux PSI; 0 when unknown. */
function pressureShare(startUs: number | undefined, elapsedMs: number): number {
  const nowUs = cpuPressureTotalUs();
  if (startUs === undefined || nowUs === undefined || elapsedMs <= 0) return 0;
  return Math.min(1, (nowUs - startUs) / 1000 / elapsedMs);
}

type AttemptResult =
  | { kind: 'done'; outcome: Omit<StepOutcome, 'attempts'> }
  | { kind: 'failed'; error: unknown; verdict: Verdict };

async function runAttempt(
  definition: StepDefinition,
  args: Record<string, unknown>,
  env: StepEnvironment,
  limit: { limitMs: number; limitLabel: string },
): Promise<AttemptResult> {
  const startedAt = performance.now();
  const cpuAtStart = process.cpuUsage();
  const pressureAtStartUs = cpuPressureTotalUs();
  let bytesAtStart = env.bytesFromBoard();
  const phaseMs: Record<AttemptPhase, number> = { board: 0, reference: 0, reconnect: 0 };
  let phase: AttemptPhase = 'board';
  let phaseStartedAt = startedAt;
  const enter = (next: AttemptPhase): AttemptPhase => {
    const now = performance.now();
    phaseMs[phase] += now - phaseStartedAt;
    const previous = phase;
    phase = next;
    phaseStartedAt = now;
    return previous;
  };
  const during = async <T>(next: AttemptPhase, work: () => Promise<T>): Promise<T> => {
    const previous = enter(next);
    try {
      return await work();
    } finally {
      enter(previous);
    }
  };

  let phaseAtStop: AttemptPhase | undefined;
  const controller = new AbortController();
  const onRunAbort = (): void => controller.abort(new RunStoppedError());
  if (env.runSignal?.aborted) onRunAbort();
  else env.runSignal?.addEventListener('abort', onRunAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // What the attempt was doing when its time ran out, before the abort unwinds it.
      phaseAtStop = phase;
      controller.abort(new StepTimeoutError(limit.limitLabel, limit.limitMs));
    }, limit.limitMs + HARD_STOP_GRACE_MS);
    const onAbort = (): void => reject(controller.signal.reason instanceof Error ? controller.signal.reason : new RunStoppedError());
    if (controller.signal.aborted) onAbort();
    else controller.signal.addEventListener('abort', onAbort, { once: true });
  });
  deadline.catch(() => undefined);
  const timeLeftMs = (): number => Math.max(1, limit.limitMs - (performance.now() - startedAt));

  try {
    if (controller.signal.aborted) throw controller.signal.reason;
    // A port that vanished (a reboot re-enumerating USB) is opened again before the step uses it.
    if (env.needsReconnect()) {
      env.log(`a port of board ${env.board.id} closed; opening it again`);
      await Promise.race([during('reconnect', () => env.reconnect(Math.min(env.reconnectWaitMs, timeLeftMs()), controller.signal)), deadline]);
      // What the reopened port said (the probe's prompt, boot text) is not the board answering the step.
      bytesAtStart = env.bytesFromBoard();
    }
    const context: StepContext = {
      board: env.board,
      values: env.values,
      reference: env.reference,
      signal: controller.signal,
      timeLeftMs,
      queryReference: (options) => during('reference', () => env.queryReference(controller.signal, options)),
      log: env.log,
      lifecycle: env.lifecycle,
    };
    const report = await Promise.race([definition.run(context, args as never), deadline]);
    const failedMeasurement = report.measurements?.some((m) => m.outcome === 'FAIL');
    const outcome = report.outcome ?? (failedMeasurement ? 'FAIL' : 'PASS');
    return {
      kind: 'done',
      outcome: {
        outcome,
        fault: outcome === 'FAIL' ? 'board' : outcome === 'ERROR' ? 'rig' : undefined,
        message: report.message,
        measurements: report.measurements ?? [],
        data: report.data ?? {},
        waitedMs: report.waitedMs,
      },
    };
  } catch (error) {
    enter(phase);
    const now = performance.now();
    const evidence: AttemptEvidence = {
      elapsedMs: now - startedAt,
      limitMs: limit.limitMs,
      limitLabel: limit.limitLabel,
      bytesFromBoard: env.bytesFromBoard() - bytesAtStart,
      hostStallMs: env.hostStallMs(startedAt, now),
      processCpuShare: cpuShare(process.cpuUsage(cpuAtStart), now - startedAt),
      cpuPressureShare: pressureShare(pressureAtStartUs, now - startedAt),
      phase: phaseAtStop ?? phase,
      phaseMs,
      boardOnHost: env.boardOnHost,
    };
    const aborted = error instanceof RunStoppedError || Boolean(env.runSignal?.aborted);
    return { kind: 'failed', error, verdict: classifyFailure(error, evidence, aborted) };
  } finally {
    clearTimeout(timer);
    env.runSignal?.removeEventListener('abort', onRunAbort);
    if (!controller.signal.aborted) controller.abort(new Error('step finished'));
  }
}
