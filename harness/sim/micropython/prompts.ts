/**
 * What the simulated QuecPython REPL prints at its prompts, shared by the REPL personality (repl.ts,
 * in the VM thread) and the board worker (worker.ts), which follows the REPL's mode from its output
 * so it can print the right prompt when it has to replace a VM that a Ctrl-C could not stop.
 */

export const RAW_PROMPT_TEXT = 'raw REPL; CTRL-B to exit\r\n>';
export const FRIENDLY_PROMPT_TEXT = 'for more information.\r\n>>> ';
/** The end of a raw-mode exec: `\x04` after the traceback (empty or not), then the raw prompt. */
export const RAW_EXEC_END = '\x04>';
export const FRIENDLY_PROMPT = '>>> ';

/** The traceback a board prints when a Ctrl-C stops a one-line command typed (or sent) at the REPL. */
export const KEYBOARD_INTERRUPT_TRACEBACK =
  'Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nKeyboardInterrupt: \r\n';

export type ReplMode = 'friendly' | 'raw';

/** Follows the REPL's mode (friendly or raw) from the bytes it prints. */
export class ReplModeTracker {
  private tail = '';

  constructor(public mode: ReplMode = 'friendly') {}

  /** Feeds printed text; returns 'raw-prompt' when it just printed a raw-mode `>` prompt. */
  feed(text: string): 'raw-prompt' | undefined {
    let rawPrompt: 'raw-prompt' | undefined;
    for (const char of text) {
      this.tail = (this.tail + char).slice(-40);
      if (this.tail.endsWith(RAW_PROMPT_TEXT)) {
        this.mode = 'raw';
        rawPrompt = 'raw-prompt';
      } else if (this.mode === 'raw' && this.tail.endsWith(RAW_EXEC_END)) {
        rawPrompt = 'raw-prompt';
      } else if (this.tail.endsWith(FRIENDLY_PROMPT_TEXT)) {
        this.mode = 'friendly';
        rawPrompt = undefined;
      }
    }
    return rawPrompt;
  }

  reset(mode: ReplMode): void {
    this.mode = mode;
    this.tail = '';
  }
}
