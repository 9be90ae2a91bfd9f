/**
 * Whose fault is it? Every error the harness raises says so, because a nightly run must tell a broken
 * rig from broken firmware, and only the rig's errors may be retried.
 *
 *  - InputError:          the user's scenario, rig or flags are wrong; nothing was run (exit 2).
 *  - InfrastructureError: the rig or harness failed (port gone, reference unreachable) -> ERROR (exit 3).
 *  - BoardError:          the board misbehaved (wrong answer, exception, refused) -> FAIL (exit 1).
 *  - anything else:       a bug in qhil itself (a TypeError, say) -> ERROR, reported apart as a harness
 *                         bug with its stack, never retried (LAVA's LAVABug).
 *
 * A timeout (TimeoutError) is none of these by itself: whose fault it is depends on evidence the
 * thrower does not have (did the board send anything, was the host itself stalled, where did the
 * time go), so the runner classes it (runner/verdict.ts). `faultOf` gives the class of any error.
 */

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}:${loc.column}`;
}

export class InputError extends Error {
  constructor(
    message: string,
    readonly location?: SourceLocation,
  ) {
    super(location ? `${formatLocation(location)}: ${message}` : message);
    this.name = 'InputError';
  }
}

export class InfrastructureError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InfrastructureError';
  }
}

export class BoardError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BoardError';
  }
}

/** The far end of a link went away (USB unplugged, socat killed, TCP reset). The rig's fault. */
export class LinkClosedError extends InfrastructureError {
  constructor(
    readonly port: string,
    reason: string,
  ) {
    super(`${port}: ${reason}`);
    this.name = 'LinkClosedError';
  }
}

/**
 * The board reports, truthfully, that something outside it is missing or refusing: no SIM card (or a
 * locked one), no coverage, a network that refuses the data call, an NTP server it cannot reach.
 * That is the rig's or the network's state, no verdict on the firmware: ERROR, retried.
 */
export class BoardEnvironmentError extends InfrastructureError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BoardEnvironmentError';
  }
}

/** The host itself was too busy to keep time (event loop stalled, CPU starved): the rig's fault. */
export class HostOverloadedError extends InfrastructureError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HostOverloadedError';
  }
}

/**
 * Something did not finish in time. Not a class of fault by itself: the runner decides from evidence
 * whether the board (it answered, then stalled), the rig (silence, a stalled host, a slow reference)
 * or the scenario (a deadline shorter than its own waits) is to blame.
 */
export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * A wait ran out of time. `which` says which limit fired: no byte for too long (`inactivity`) or the
 * overall deadline; `tail` is the end of what did arrive (decoded text); `bytesReceived` is how many
 * bytes arrived during this wait (0: the board said nothing, evidence for whoever classes the timeout).
 * A vanished port is LinkClosedError instead.
 */
export class WaitTimeoutError extends TimeoutError {
  constructor(
    readonly port: string,
    readonly waitingFor: string,
    readonly which: 'inactivity' | 'deadline',
    readonly limitMs: number,
    readonly tail: string,
    readonly transcriptPath?: string,
    readonly bytesReceived: number = 0,
  ) {
    super(
      `${port}: no ${waitingFor} within the ${which === 'inactivity' ? 'inactivity timeout' : 'deadline'} ` +
        `of ${limitMs}ms; ${bytesReceived} bytes received meanwhile; last bytes received: ` +
        // JSON escapes C0 controls; DEL and C1 (a lone U+009B is a terminal CSI) are escaped too.
        JSON.stringify(tail).replace(/[\u007f-\u009f]/g, (ch) => `\\u00${ch.charCodeAt(0).toString(16)}`) +
        (transcriptPath ? ` (full transcript: ${transcriptPath})` : ''),
    );
    this.name = 'WaitTimeoutError';
  }
}

/** Whose fault an error is: the board's (FAIL), the rig's, the input's, or a bug in qhil (all ERROR). */
export type Fault = 'board' | 'rig' | 'input' | 'harness';

/**
 * The class of an error as thrown. A TimeoutError counts as the rig's here (no verdict without
 * evidence); the runner, which has the evidence, classes timeouts itself before calling this.
 */
export function faultOf(error: unknown): Fault {
  if (error instanceof BoardError) return 'board';
  if (error instanceof InputError) return 'input';
  if (error instanceof InfrastructureError || error instanceof TimeoutError) return 'rig';
  return 'harness';
}

/** The outcome class an error maps to in a report. */
export function outcomeOfError(error: unknown): 'FAIL' | 'ERROR' {
  return faultOf(error) === 'board' ? 'FAIL' : 'ERROR';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
