import { formatDurationMs } from '../core/duration.js';
import { errorMessage, faultOf, TimeoutError, WaitTimeoutError, type Fault } from '../core/errors.js';
import type { Outcome } from '../core/model.js';

/**
 * Whose fault a failed attempt is, decided once, here, from the error and the evidence the runner
 * gathered while the attempt ran. A FAIL must always be the firmware's: everything else is an ERROR
 * with the class that says why (the rig, the input, or qhil itself).
 */

/** What was going on when an attempt's time ran out: the board, the reference query, a reconnect, a wait. */
export type AttemptPhase = 'board' | 'reference' | 'reconnect';

export interface AttemptEvidence {
  /** How long the attempt ran, ms. */
  elapsedMs: number;
  /** Its limit, ms, and what set it (the step's timeout or what was left of the scenario's). */
  limitMs: number;
  limitLabel: string;
  /** Bytes the board sent during the attempt, all ports. */
  bytesFromBoard: number;
  /** The longest stall of the host's own event loop during the attempt, ms. */
  hostStallMs: number;
  /**
   * The share of the whole host's CPU (all cores) this process used during the attempt, 0..1. Near 1,
   * the simulated boards it runs could not get the CPU they needed.
   */
  processCpuShare: number;
  /** The share of the attempt during which some task on the host waited for a CPU (Linux PSI), 0..1; 0 when unknown. */
  cpuPressureShare: number;
  /** What the attempt was doing when it ended. */
  phase: AttemptPhase;
  /** Time spent per phase, ms. */
  phaseMs: Record<AttemptPhase, number>;
  /** The board runs on this host (a simulated board): a starved host starves the board too. */
  boardOnHost: boolean;
}

export interface Verdict {
  outcome: Extract<Outcome, 'FAIL' | 'ERROR'>;
  fault: Fault;
  message: string;
  /** Only the rig's errors are retried: a board that answered wrongly would answer wrongly again. */
  retryable: boolean;
}

/**
 * A host stall longer than this (or than a tenth of the attempt's limit, whichever is longer) means
 * the host could not keep time: every deadline it measured is suspect.
 */
export const HOST_STALL_FLOOR_MS = 250;

/** This process using this share of every core means the host is saturated by the boards it simulates. */
export const SATURATED_CPU_SHARE = 0.9;
/**
 * Tasks waiting for a CPU this share of the time: the threads of a simulated board were starved
 * (128 simulated boards on two cores show 40% and more; one board on an idle host, a few percent).
 */
export const STARVED_PRESSURE_SHARE = 0.25;

/**
 * Was the host too busy for the timing that failed to mean anything? `limitMs` is the limit that
 * fired (a 2 s inactivity limit inside a 60 s step is judged against 2 s).
 */
export function hostWasOverloaded(
  evidence: Pick<AttemptEvidence, 'hostStallMs' | 'limitMs' | 'processCpuShare' | 'cpuPressureShare' | 'boardOnHost'>,
  limitMs = evidence.limitMs,
): boolean {
  if (evidence.hostStallMs >= Math.max(HOST_STALL_FLOOR_MS, limitMs / 10)) return true;
  // A simulated board's threads need the CPU too: a saturated or starved host slows the board itself.
  return evidence.boardOnHost && (evidence.processCpuShare >= SATURATED_CPU_SHARE || evidence.cpuPressureShare >= STARVED_PRESSURE_SHARE);
}

function describeOverload(evidence: AttemptEvidence): string {
  const parts = [`its event loop stalled for up to ${formatDurationMs(evidence.hostStallMs)}`];
  if (evidence.boardOnHost) {
    parts.push(`qhil and its simulated boards used ${Math.round(evidence.processCpuShare * 100)}% of all CPU cores`);
    if (evidence.cpuPressureShare > 0) parts.push(`tasks waited for a CPU ${Math.round(evidence.cpuPressureShare * 100)}% of the time`);
  }
  return `the host itself was overloaded (${parts.join('; ')}) during this step`;
}

/** Classes a failed attempt. `aborted` is true when the run was stopped (never retried). */
export function classifyFailure(error: unknown, evidence: AttemptEvidence, aborted = false): Verdict {
  const message = errorMessage(error);
  if (aborted) return { outcome: 'ERROR', fault: 'rig', message, retryable: false };
  // A wait that fired inside the step is judged against its own limit, not the step's.
  const firedLimitMs = error instanceof WaitTimeoutError ? Math.min(error.limitMs, evidence.limitMs) : evidence.limitMs;
  const overloaded = hostWasOverloaded(evidence, firedLimitMs);
  const stalled = describeOverload(evidence);

  if (error instanceof TimeoutError) {
    const where = whereTheTimeWent(evidence);
    if (overloaded) return rig(`${message}; ${stalled} (${where}), so the timeout says nothing about the board`);
    if (evidence.phase === 'reference') return rig(`${message}: the time ran out waiting for the reference clock (${where})`);
    if (evidence.phase === 'reconnect') return rig(`${message}: the time ran out waiting for the board's port to come back (${where})`);
    if (evidence.bytesFromBoard === 0 && evidence.boardOnHost) {
      return rig(
        `${message}; the simulated board sent nothing at all during the step (${where}): it runs on this host, ` +
          'so a busy host starves it; no verdict on the firmware it simulates',
      );
    }
    if (evidence.bytesFromBoard === 0) {
      return rig(
        `${message}; the board sent nothing at all during the step (${where}): ` +
          'is it powered, cabled and on this port? A board that never answers gives no verdict',
      );
    }
    return { outcome: 'FAIL', fault: 'board', message: `${message}; the board sent ${evidence.bytesFromBoard} bytes during the step but did not finish answering (${where})`, retryable: false };
  }

  const fault = faultOf(error);
  // A wrong answer is judged on the event loop alone: CPU pressure slows a simulated board, it does not change its answers.
  if (fault === 'board' && evidence.boardOnHost && evidence.hostStallMs >= Math.max(HOST_STALL_FLOOR_MS, firedLimitMs / 10)) {
    // A simulated board runs on this host: when the host starves, the board's "misbehaviour" is the host's.
    return rig(`${message}; ${stalled}, and this simulated board runs on the same host, so this is not the firmware's fault`);
  }
  if (fault === 'board') return { outcome: 'FAIL', fault, message, retryable: false };
  if (fault === 'rig') return rig(message);
  if (fault === 'input') return { outcome: 'ERROR', fault, message, retryable: false };
  return { outcome: 'ERROR', fault: 'harness', message: `qhil itself failed (a bug, please report it): ${message}`, retryable: false };
}

function rig(message: string): Verdict {
  return { outcome: 'ERROR', fault: 'rig', message, retryable: true };
}

/** "1.0s of 1.0s: 0ms on the reference, 1.0s on the board, 12 bytes from the board". */
export function whereTheTimeWent(evidence: AttemptEvidence): string {
  const parts = (['reference', 'reconnect', 'board'] as const)
    .filter((phase) => evidence.phaseMs[phase] > 0 || phase === 'board')
    .map((phase) => `${formatDurationMs(evidence.phaseMs[phase])} ${phase === 'board' ? 'on the board' : phase === 'reference' ? 'on the reference query' : 'reopening ports'}`);
  return `${formatDurationMs(evidence.elapsedMs)} of ${formatDurationMs(evidence.limitMs)} (${evidence.limitLabel}): ${parts.join(', ')}; ${evidence.bytesFromBoard} bytes from the board`;
}
