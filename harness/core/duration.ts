import { quoted } from './quote.js';

/** Durations in scenario and rig files are strings with units: `500ms`, `60s`, `5m`, `1h`, `-2.5s`. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^([+-]?)(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/**
 * The longest duration qhil accepts anywhere (timeouts, waits, offsets, flags): a day. Anything longer
 * is a typo (`99999999999h`), and a timer that long would never fire: Node caps timers at ~24.8 days.
 */
export const MAX_DURATION_MS = 24 * 3_600_000;

export class DurationSyntaxError extends Error {
  constructor(
    readonly text: string,
    reason = 'expected a number with a unit, e.g. 500ms, 60s, 5m, 1h',
  ) {
    super(`bad duration ${quoted(text)}: ${reason}`);
    this.name = 'DurationSyntaxError';
  }
}

/** Parses a duration string into milliseconds; throws DurationSyntaxError on anything else, or beyond ±24h. */
export function parseDurationMs(text: string): number {
  const match = DURATION_RE.exec(text.trim());
  if (!match) throw new DurationSyntaxError(text);
  const [, sign, amount, unit] = match as unknown as [string, string, string, string];
  const ms = Number(amount) * (UNIT_MS[unit] ?? Number.NaN);
  if (!(ms <= MAX_DURATION_MS)) throw new DurationSyntaxError(text, `longer than ${MAX_DURATION_MS / 3_600_000}h, the most qhil allows`);
  return sign === '-' ? -ms : ms;
}

function twoDigits(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * Formats milliseconds for people: `850ms`, `1.25s`, `12.3s`, `4m05s`, `2h03m00s`. Each form is chosen
 * after rounding to its own precision, so 59.96 s is `1m00s`, never `60.0s` or `0m60s`.
 */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return `${ms}ms`;
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  const wholeMs = Math.round(abs);
  if (wholeMs < 1000) return `${sign}${wholeMs}ms`;
  const hundredths = Math.round(abs / 10);
  if (hundredths < 1000) return `${sign}${(hundredths / 100).toFixed(2)}s`;
  const tenths = Math.round(abs / 100);
  if (tenths < 600) return `${sign}${(tenths / 10).toFixed(1)}s`;
  const totalSeconds = Math.round(abs / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours === 0) return `${sign}${minutes}m${twoDigits(seconds)}s`;
  return `${sign}${hours}h${twoDigits(minutes)}m${twoDigits(seconds)}s`;
}
