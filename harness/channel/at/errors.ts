import { BoardError, WaitTimeoutError } from '../../core/errors.js';
import { quoteBoardText } from '../text.js';
import type { AtFailure } from './result.js';

/**
 * The board answered a command with ERROR, +CME ERROR or +CMS ERROR: the board's fault (FAIL).
 * The message names the port, the command and the code's meaning.
 */
export class AtCommandError extends BoardError {
  constructor(
    readonly port: string,
    readonly command: string,
    readonly result: AtFailure,
  ) {
    super(`${port}: ${command} failed: ${describeFailure(result)}`);
    this.name = 'AtCommandError';
  }

  /** The intermediate lines that came before the error, in order. */
  get lines(): string[] {
    return this.result.lines;
  }
}

/** A final result code that carries a number and its meaning; `code` is undefined only for a text we do not know. */
abstract class CodedAtError extends AtCommandError {
  readonly code: number | undefined;
  readonly meaning: string;

  constructor(port: string, command: string, result: CodedFailure) {
    super(port, command, result);
    this.code = result.code;
    this.meaning = result.meaning;
  }
}

/** `+CME ERROR: <n>`: equipment (SIM, network) errors. */
export class CmeError extends CodedAtError {
  override readonly name = 'CmeError';
}

/** `+CMS ERROR: <n>`: message service errors. */
export class CmsError extends CodedAtError {
  override readonly name = 'CmsError';
}

type CodedFailure = Extract<AtFailure, { final: 'CME ERROR' | 'CMS ERROR' }>;

/** A command got no final result code within its limit; `bytesReceived` counts from the command's write. */
export class AtTimeoutError extends WaitTimeoutError {
  constructor(
    port: string,
    readonly command: string,
    waitingFor: string,
    limitMs: number,
    tail: string,
    transcriptPath?: string,
    bytesReceived = 0,
  ) {
    super(port, waitingFor, 'deadline', limitMs, tail, transcriptPath, bytesReceived);
    this.name = 'AtTimeoutError';
  }
}

/**
 * The board answered with lines that are not text (bytes lost or changed on the way) or with a reading
 * that does not parse: the board's fault. The message quotes what came, escaped and capped.
 */
export class AtGarbledReplyError extends BoardError {
  constructor(
    readonly port: string,
    readonly command: string,
    readonly lines: readonly string[],
    what: string,
  ) {
    super(`${port}: garbled reply to ${command}: ${quoteBoardText(lines.slice(-5).join('\n'))}; ${what}`);
    this.name = 'AtGarbledReplyError';
  }
}

/**
 * The probe the channel sends to resynchronise after a command got no final code (RESYNC_PROBE) got
 * no answer in time either; `command` is the command that was to run after it, and did not.
 */
export class AtResyncError extends AtTimeoutError {
  constructor(port: string, command: string, waitingFor: string, limitMs: number, tail: string, transcriptPath?: string, bytesReceived = 0) {
    super(port, command, waitingFor, limitMs, tail, transcriptPath, bytesReceived);
    this.name = 'AtResyncError';
  }
}

export function describeFailure(result: AtFailure): string {
  switch (result.final) {
    case 'ERROR':
      return 'ERROR';
    case 'CME ERROR':
    case 'CMS ERROR':
      return `+${result.final}: ${result.codeText} (${result.meaning})`;
  }
}

export function errorOfFailure(port: string, command: string, result: AtFailure): AtCommandError {
  if (result.final === 'CME ERROR') return new CmeError(port, command, result);
  if (result.final === 'CMS ERROR') return new CmsError(port, command, result);
  return new AtCommandError(port, command, result);
}

/**
 * The board said `RDY` (it rebooted) while a command ran: the board forgot the command and will never
 * answer it. The board's (FAIL): a crash, a watchdog, a brown-out; a reboot the test asked for comes
 * after the command's OK, never in the middle of one.
 */
export class AtRebootError extends BoardError {
  constructor(
    readonly port: string,
    readonly command: string,
    /** The line that said so (`RDY`). */
    readonly line: string,
  ) {
    super(`${port}: the board rebooted (it said ${quoteBoardText(line)}) while ${command} ran; no answer will come`);
    this.name = 'AtRebootError';
  }
}
