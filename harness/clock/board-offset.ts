import type { LocaltimeReading } from '../board/board.js';
import type { Measurement, MeasurementOutcome } from '../core/model.js';

/** Reference offset of the host clock: UTC ≈ host wall clock + offsetMs, within ±uncertaintyMs. */
export interface HostOffset {
  offsetMs: number;
  uncertaintyMs: number;
  /** Host wall-clock ms when it was measured. */
  measuredAtHostMs: number;
}

export interface BoardOffsetOptions {
  /** Zone of the board's wall clock in hours east of UTC (quarter hours allowed), for readings that carry none (REPL). */
  timezoneHours: number;
  /** The board's offset from UTC must lie within ±toleranceMs; undefined records it without a verdict (UNSET). */
  toleranceMs?: number;
  /** Worst-case host clock drift between the reference query and the reading (an undisciplined crystal: 100 ppm). */
  hostDriftPpm?: number;
}

export interface BoardOffset {
  /** The board's offset from UTC lies in [lowMs, highMs]; positive = board ahead. */
  lowMs: number;
  highMs: number;
  /** UTC ms the board's reading stands for (start of the second it showed). */
  boardUtcSecondMs: number;
  zoneMinutes: number;
  measurement: Measurement;
}

/** Ms since 1970 for wall-clock fields, read as if they were UTC. */
export function wallFieldsToMs(fields: readonly number[]): number {
  const [year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0] = fields;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/**
 * The board's offset from UTC as an interval, as DESIGN.md defines it. A reading sent at host time
 * `a` and answered at `b` that says second S means: at some host instant in [a, b] the board clock was
 * in [S, S+1 s). UTC at host instant t is t + θ ± u (the reference). So the board's offset is in
 * [S - (b + θ + u), S + 1 s - (a + θ - u)], widened by the host's drift since the reference query.
 */
export function boardOffset(reading: LocaltimeReading, reference: HostOffset, options: BoardOffsetOptions): BoardOffset {
  const zoneMinutes = reading.zoneQuarterHours !== undefined ? reading.zoneQuarterHours * 15 : Math.round(options.timezoneHours * 60);
  const boardUtcSecondMs = wallFieldsToMs(reading.localtime) - zoneMinutes * 60_000;
  const sinceReferenceMs = Math.max(
    Math.abs(reading.hostSendMs - reference.measuredAtHostMs),
    Math.abs(reading.hostReceiveMs - reference.measuredAtHostMs),
  );
  const driftMs = (sinceReferenceMs * (options.hostDriftPpm ?? 100)) / 1e6;
  const lowMs = boardUtcSecondMs - (reading.hostReceiveMs + reference.offsetMs + reference.uncertaintyMs + driftMs);
  const highMs = boardUtcSecondMs + 1000 - (reading.hostSendMs + reference.offsetMs - reference.uncertaintyMs - driftMs);
  const toleranceMs = options.toleranceMs ?? Number.POSITIVE_INFINITY;
  const outcome = options.toleranceMs === undefined ? 'UNSET' : judge(lowMs, highMs, toleranceMs);
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  return {
    lowMs,
    highMs,
    boardUtcSecondMs,
    zoneMinutes,
    measurement: {
      name: 'board clock offset from UTC',
      value: round((lowMs + highMs) / 2),
      unit: 'ms',
      low: round(lowMs),
      high: round(highMs),
      uncertainty: round((highMs - lowMs) / 2),
      limitLow: -toleranceMs,
      limitHigh: toleranceMs,
      outcome,
      explanation:
        `board showed ${formatFields(reading.localtime)} (zone ${formatZone(zoneMinutes)}) ` +
        `between host ${new Date(reading.hostSendMs).toISOString()} and ${new Date(reading.hostReceiveMs).toISOString()} ` +
        `(${reading.hostReceiveMs - reading.hostSendMs} ms round trip); 1 s reading resolution; ` +
        `reference ${reference.offsetMs >= 0 ? '+' : ''}${reference.offsetMs.toFixed(1)} ms ±${reference.uncertaintyMs.toFixed(1)} ms`,
    },
  };
}

/** PASS when the interval lies inside ±tolerance, FAIL when wholly outside, MARGINAL when it straddles a limit. */
export function judge(lowMs: number, highMs: number, toleranceMs: number): MeasurementOutcome {
  if (lowMs >= -toleranceMs && highMs <= toleranceMs) return 'PASS';
  if (highMs < -toleranceMs || lowMs > toleranceMs) return 'FAIL';
  return 'MARGINAL';
}

function formatFields(fields: readonly number[]): string {
  const [y, mo, d, h, mi, s] = fields.map((n) => String(n).padStart(2, '0'));
  return `${y}-${mo}-${d} ${h}:${mi}:${s}`;
}

function formatZone(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
