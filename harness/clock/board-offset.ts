import type { LocaltimeReading } from '../board/board.js';
import type { EdgeTiming, Measurement, MeasurementOutcome } from '../core/model.js';

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
  /** Worst-case host clock drift between the reference query and the reading; default DEFAULT_HOST_DRIFT_PPM. */
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

/** Worst-case host clock drift since the reference query when the caller states none: an undisciplined crystal. */
export const DEFAULT_HOST_DRIFT_PPM = 100;

/**
 * The board's offset from UTC as an interval, as DESIGN.md defines it. UTC at host instant t is
 * t + θ ± (u + d): θ ± u the reference, d = hostDriftPpm × the time since the reference query.
 *
 * Second precision: a reading sent at host time `a` and answered at `b` that says second S means that
 * at some host instant in [a, b] the board clock was in [S, S+1 s). So the offset is in
 * [S - (b + θ + u + d), S + 1 s - (a + θ - u - d)]; half-width = 500 ms (the reading's resolution) +
 * (b - a)/2 (round trip) + u (reference) + d (host drift).
 *
 * Edge precision (`reading.edge`): the board was at S.000 at a host instant in [hostLow, hostHigh]. So
 * the offset is in [S - (hostHigh + θ + u + d), S - (hostLow + θ - u - d)]; half-width = the edge's
 * reading and round-trip parts (which make up (hostHigh - hostLow)/2) + u + d.
 *
 * Either way the measurement carries `uncertaintyParts` { reading, roundTrip, reference, hostDrift }
 * that add up to its `uncertainty`.
 */
export function boardOffset(reading: LocaltimeReading, reference: HostOffset, options: BoardOffsetOptions): BoardOffset {
  const zoneMinutes = reading.zoneQuarterHours !== undefined ? reading.zoneQuarterHours * 15 : Math.round(options.timezoneHours * 60);
  const boardUtcSecondMs = wallFieldsToMs(reading.localtime) - zoneMinutes * 60_000;
  const edge = reading.edge;
  // The host interval the reading pins down: for an edge reading the board's S.000 lies in it; for a
  // second reading some instant of [S, S+1 s) does (its send and receive).
  const hostEarliestMs = edge ? edge.hostLowMs : reading.hostSendMs;
  const hostLatestMs = edge ? edge.hostHighMs : reading.hostReceiveMs;
  const resolutionMs = edge ? 0 : 1000;
  const sinceReferenceMs = Math.max(Math.abs(hostEarliestMs - reference.measuredAtHostMs), Math.abs(hostLatestMs - reference.measuredAtHostMs));
  const hostDriftMs = (sinceReferenceMs * (options.hostDriftPpm ?? DEFAULT_HOST_DRIFT_PPM)) / 1e6;
  const lowMs = boardUtcSecondMs - (hostLatestMs + reference.offsetMs + reference.uncertaintyMs + hostDriftMs);
  const highMs = boardUtcSecondMs + resolutionMs - (hostEarliestMs + reference.offsetMs - reference.uncertaintyMs - hostDriftMs);
  const hostHalfWidthMs = (hostLatestMs - hostEarliestMs) / 2;
  const [readingPartMs, roundTripPartMs] = edge ? splitEdgeHalfWidth(edge, hostHalfWidthMs) : [resolutionMs / 2, hostHalfWidthMs];
  const toleranceMs = options.toleranceMs ?? Number.POSITIVE_INFINITY;
  const outcome = options.toleranceMs === undefined ? 'UNSET' : judge(lowMs, highMs, toleranceMs);
  // Rounded outwards to 1 µs (about the float resolution of epoch ms), so the recorded interval still
  // contains the computed one.
  const low = Math.floor(lowMs * 1000) / 1000;
  const high = Math.ceil(highMs * 1000) / 1000;
  const uncertainty = round4((high - low) / 2);
  const parts = partsSummingTo(uncertainty, {
    reading: readingPartMs,
    roundTrip: roundTripPartMs,
    reference: reference.uncertaintyMs,
    hostDrift: hostDriftMs,
  });
  const referenceText = `reference ${reference.offsetMs >= 0 ? '+' : ''}${reference.offsetMs.toFixed(1)} ms ±${reference.uncertaintyMs.toFixed(1)} ms`;
  const explanation = edge
    ? `board entered ${formatFields(reading.localtime)} (zone ${formatZone(zoneMinutes)}) between host ` +
      `${isoMs(edge.hostLowMs)} and ${isoMs(edge.hostHighMs)} (edge timed by ${edge.method}: ` +
      `±${readingPartMs.toFixed(2)} ms locating it, ±${roundTripPartMs.toFixed(2)} ms relating it to host time); ${referenceText}`
    : `board showed ${formatFields(reading.localtime)} (zone ${formatZone(zoneMinutes)}) ` +
      `between host ${new Date(reading.hostSendMs).toISOString()} and ${new Date(reading.hostReceiveMs).toISOString()} ` +
      `(${reading.hostReceiveMs - reading.hostSendMs} ms round trip); 1 s reading resolution; ${referenceText}`;
  return {
    lowMs,
    highMs,
    boardUtcSecondMs,
    zoneMinutes,
    measurement: {
      name: 'board clock offset from UTC',
      value: round4((low + high) / 2),
      unit: 'ms',
      low,
      high,
      uncertainty,
      uncertaintyParts: parts,
      limitLow: -toleranceMs,
      limitHigh: toleranceMs,
      outcome,
      explanation,
    },
  };
}

/**
 * The edge's own half-width split into locating the edge (reading) and relating it to host time
 * (round trip), as the reading states them; scaled to the interval's actual half-width if a reader's
 * parts do not add up to it exactly, so the parts stay a true account of the interval.
 */
function splitEdgeHalfWidth(edge: EdgeTiming, hostHalfWidthMs: number): [number, number] {
  const stated = Math.max(0, edge.readingMs) + Math.max(0, edge.roundTripMs);
  if (!(stated > 0)) return [hostHalfWidthMs, 0];
  return [(hostHalfWidthMs * Math.max(0, edge.readingMs)) / stated, (hostHalfWidthMs * Math.max(0, edge.roundTripMs)) / stated];
}

/**
 * Parts rounded to 4 decimals whose sum is `total` as recorded: what rounding the interval outwards
 * added (a µs or so) goes to the largest part, so a reader summing the parts gets the half-width.
 */
export function partsSummingTo(total: number, parts: Record<string, number>): Record<string, number> {
  const rounded: Record<string, number> = {};
  let largest: string | undefined;
  for (const [name, value] of Object.entries(parts)) {
    rounded[name] = round4(value);
    if (largest === undefined || value > (parts[largest] ?? 0)) largest = name;
  }
  if (largest !== undefined) {
    const sum = Object.values(rounded).reduce((a, b) => a + b, 0);
    rounded[largest] = round4((rounded[largest] ?? 0) + total - sum);
  }
  return rounded;
}

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** ISO time with the host's sub-ms fraction kept to 10 µs: `12:00:00.41237Z`. */
function isoMs(hostMs: number): string {
  const hundredthsMs = Math.round(hostMs * 100);
  const fraction = String(((hundredthsMs % 100) + 100) % 100).padStart(2, '0');
  return new Date(Math.floor(hundredthsMs / 100)).toISOString().replace('Z', `${fraction}Z`);
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
