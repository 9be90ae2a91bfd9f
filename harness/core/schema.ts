import { z } from 'zod';
import { parseDurationMs } from './duration.js';
import { UserPattern } from './pattern.js';

/** A duration string with a unit (`500ms`, `60s`, `5m`), parsed to milliseconds; at most 24h either way. */
export const durationMs = z.string().transform((text, ctx) => {
  try {
    return parseDurationMs(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** A non-negative duration. */
export const positiveDurationMs = durationMs.refine((ms) => ms > 0, 'must be longer than 0');

/** A regular expression matched against board output: checked (and compiled) when the scenario loads. */
export const userPattern = z.string().superRefine((source, ctx) => {
  try {
    UserPattern.compile(source);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** `via: repl | at`. */
export const via = z.enum(['repl', 'at']);

/** Options every step takes: `timeout` per attempt, `retries` for infrastructure errors only. */
export const commonStepOptions = {
  timeout: positiveDurationMs.optional(),
  retries: z.number().int().min(0).max(10).default(0),
};
