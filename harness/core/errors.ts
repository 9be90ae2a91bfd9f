/**
 * Whose fault is it? Every error the harness raises says so, because a nightly run must tell a broken
 * rig from broken firmware, and only the rig's errors may be retried.
 *
 *  - InputError:          the user's scenario, rig or flags are wrong; nothing was run (exit 2).
 *  - InfrastructureError: the rig or harness failed (port gone, reference unreachable) -> ERROR (exit 3).
 *  - BoardError:          the board misbehaved (wrong answer, exception, refused) -> FAIL (exit 1).
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
 * A wait ran out of time. `which` says which limit fired: no byte for too long (`inactivity`) or the
 * overall deadline; `tail` is the end of what did arrive. A board that is connected but does not
 * answer in time is misbehaving, so this is a BoardError (FAIL); a vanished port is LinkClosedError.
 */
export class WaitTimeoutError extends BoardError {
  constructor(
    readonly port: string,
    readonly waitingFor: string,
    readonly which: 'inactivity' | 'deadline',
    readonly limitMs: number,
    readonly tail: string,
    readonly transcriptPath?: string,
  ) {
    super(
      `${port}: no ${waitingFor} within the ${which === 'inactivity' ? 'inactivity timeout' : 'deadline'} ` +
        `of ${limitMs}ms; last bytes received: ${JSON.stringify(tail)}` +
        (transcriptPath ? ` (full transcript: ${transcriptPath})` : ''),
    );
    this.name = 'WaitTimeoutError';
  }
}

/** The outcome class an error maps to in a report. */
export function outcomeOfError(error: unknown): 'FAIL' | 'ERROR' {
  if (error instanceof BoardError) return 'FAIL';
  return 'ERROR';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
