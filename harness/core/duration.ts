/** Durations in scenario and rig files are strings with units: `500ms`, `60s`, `5m`, `1h`, `-2.5s`. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^([+-]?)(\d+(?:\.\d+)?)(ms|s|m|h)$/;

export class DurationSyntaxError extends Error {
  constructor(readonly text: string) {
    super(`bad duration "${text}": expected a number with a unit, e.g. 500ms, 60s, 5m, 1h`);
    this.name = 'DurationSyntaxError';
  }
}

/** Parses a duration string into milliseconds; throws DurationSyntaxError on anything else. */
export function parseDurationMs(text: string): number {
  const match = DURATION_RE.exec(text.trim());
  if (!match) throw new DurationSyntaxError(text);
  const [, sign, amount, unit] = match as unknown as [string, string, string, string];
  const ms = Number(amount) * (UNIT_MS[unit] ?? Number.NaN);
  return sign === '-' ? -ms : ms;
}

/** Formats milliseconds for people: `850ms`, `12.3s`, `4m05s`. */
export function formatDurationMs(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${Math.round(abs)}ms`;
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(abs < 10_000 ? 2 : 1)}s`;
  const minutes = Math.floor(abs / 60_000);
  const seconds = Math.round((abs % 60_000) / 1000);
  return `${sign}${minutes}m${String(seconds).padStart(2, '0')}s`;
}
