/**
 * What `qhil exec` writes: the board's answer is untrusted, so by default every control character in
 * it (ESC sequences that retitle the window or write the clipboard, NUL, bidi overrides) is shown as a
 * visible escape, with lines and tabs kept; `--raw` writes it exactly as the board sent it, for people
 * who pipe binary output. qhil's own messages are always escaped: they quote the board too.
 */
import { safeText } from '../core/text.js';
import type { CliIo } from './command.js';

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
