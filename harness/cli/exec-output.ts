/**
 * What `qhil exec` writes: the board's answer is untrusted, so by default every control character in
 * it (ESC sequences that retitle the window or write the clipboard, NUL, bidi overrides) is shown as a
 * visible escape, with lines and tabs kept; `--raw` writes it exactly as the board sent it, for people
 * who pipe binary output. qhil's own messages are always escaped: they quote the board too.
 */
import { safeText } from '../core/text.js';
import type { Fault } from '../core/errors.js';
import { ExitCode, type CliIo } from './command.js';

export interface ExecOutput {
  /** The board's answer, on stdout. */
  answer(text: string): void;
  /** The board's error output (a traceback), on stderr. */
  boardError(text: string): void;
  /** A message from qhil about the command, on stderr. */
  diagnostic(text: string): void;
}

export function execOutput(io: CliIo, raw: boolean): ExecOutput {
  const shown = (text: string): string => (raw ? text : safeText(text, { multiline: true }));
  return {
    answer: (text) => io.stdout(shown(text)),
    boardError: (text) => io.stderr(shown(text)),
    diagnostic: (text) => io.stderr(safeText(text, { multiline: true })),
  };
}

/**
 * The exit code of a failed exec (DESIGN.md): the board's fault 1, bad input 2, anything else 3. A
 * board that never answers gives no verdict (a timeout is the rig's by itself: a dead cable looks the same).
 */
export function exitCodeOfFault(fault: Fault): ExitCode {
  if (fault === 'board') return ExitCode.TestFailed;
  if (fault === 'input') return ExitCode.BadInput;
  return ExitCode.Infrastructure;
}
