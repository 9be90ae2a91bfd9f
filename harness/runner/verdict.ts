import { formatDurationMs } from '../core/duration.js';
import { errorMessage, faultOf, TimeoutError, type Fault } from '../core/errors.js';
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

export function hostWasOverloaded(evidence: Pick<AttemptEvidence, 'hostStallMs' | 'limitMs'>): boolean {
  return evidence.hostStallMs >= Math.max(HOST_STALL_FLOOR_MS, evidence.limitMs / 10);
}

/** Classes a failed attempt. `aborted` is true when the run was stopped (never retried). */
export function classifyFailure(error: unknown, evidence: AttemptEvidence, aborted = false): Verdict {
  const message = errorMessage(error);
  if (aborted) return { outcome: 'ERROR', fault: 'rig', message, retryable: false };
  const overloaded = hostWasOverloaded(evidence);
  const stalled = `the host itself was overloaded: its event loop stalled for ${formatDurationMs(evidence.hostStallMs)} during this step`;

  if (error instanceof TimeoutError) {
    const where = whereTheTimeWent(evidence);
    if (overloaded) return rig(`${message}; ${stalled} (${where}), so the timeout says nothing about the board`);
    if (evidence.phase === 'reference') return rig(`${message}: the time ran out waiting for the reference clock (${where})`);
    if (evidence.phase === 'reconnect') return rig(`${message}: the time ran out waiting for the board's port to come back (${where})`);
    if (evidence.bytesFromBoard === 0) {
      return rig(
        `${message}; the board sent nothing at all during the step (${where}): ` +
          'is it powered, cabled and on this port? A board that never answers gives no verdict',
      );
    }
    return { outcome: 'FAIL', fault: 'board', message: `${message}; the board answered, then stopped (${where})`, retryable: false };
  }

  const fault = faultOf(error);
  if (fault === 'board' && evidence.boardOnHost && overloaded) {
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
