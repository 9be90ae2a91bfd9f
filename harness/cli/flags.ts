/**
 * Flag values shared by several commands. Apart from command.ts so that `qhil --help` loads neither
 * these nor the duration parser: a command imports them in its action.
 */
import { parseDurationMs } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import { quoted } from '../core/quote.js';

/**
 * A duration flag (`--timeout 30s`, `--offset -2.5s`) in ms, at most 24h either way (MAX_DURATION_MS);
 * a malformed or unbounded one (`99999999999h`) is bad input (exit 2).
 */
export function durationFlagMs(flag: string, text: string): number {
  try {
    return parseDurationMs(text);
  } catch (error) {
    throw new InputError(`${flag}: ${(error as Error).message}`);
  }
}

/** A timeout flag (`qhil exec --timeout 30s`): a duration flag that must also be longer than 0. */
export function timeoutFlagMs(flag: string, text: string): number {
  const ms = durationFlagMs(flag, text);
  if (!(ms > 0)) throw new InputError(`${flag}: must be longer than 0, got ${quoted(text)}`);
  return ms;
}
