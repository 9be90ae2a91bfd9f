/**
 * Edge timing: the host instant at which a board's seconds digit changes, as an interval that always
 * contains it. Pure functions (no I/O, no clocks of their own), shared by the REPL and AT drivers.
 *
 * Clocks: `host...Ms` is the host wall clock, Date.now() scale with fractions (hostClock); `ticks`
 * is the board's `utime.ticks_ms()` counter (its own oscillator, wraps at 2^30); `second` is a
 * board clock reading in whole seconds (any epoch: only differences are used).
 */
import type { LocaltimeTuple } from '../core/model.js';

/** `utime.ticks_ms()` wraps here (QuecPython: 0x3FFFFFFF mask). */
export const TICKS_PERIOD = 2 ** 30;

/**
 * How far the board's oscillators (ticks, RTC) may run from the host's over one reading's few
 * seconds: crystals are specified at ±20-50 ppm; 200 ppm leaves room for a host clock being slewed.
 * Over a 2 s span it costs 0.4 ms of width.
 */
export const RATE_ALLOWANCE_PPM = 200;

/** An edge that does not come within this much board time means the clock is not running (rtctest). */
export const EDGE_LIMIT_MS = 1500;

/** `utime.ticks_diff(end, start)`: signed ms from `start` to `end`, across the 2^30 wrap. */
export function ticksDiff(endTicks: number, startTicks: number): number {
  const half = TICKS_PERIOD / 2;
  return ((((endTicks - startTicks + half) % TICKS_PERIOD) + TICKS_PERIOD) % TICKS_PERIOD) - half;
}

/** One host-board exchange that read `utime.ticks_ms()`: the read happened between send and receive. */
export interface TickExchange {
  hostSendMs: number;
  hostReceiveMs: number;
  ticksMs: number;
}

/** The board-side edge: `ticks_ms()` before the last read still in the old second, and after the first read in the new one. */
export interface BoardTickEdge {
  ticksBeforeMs: number;
  ticksAfterMs: number;
}

export interface EdgeInterval {
  hostLowMs: number;
  hostHighMs: number;
  /** Half-width parts, ms: where on the board's side the edge lies... */
  readingMs: number;
  /** ...and what relating that to host time costs. */
  roundTripMs: number;
}

/** Cristian's method: the exchange with the smallest round trip bounds the board's ticks best. */
export function bestExchange(exchanges: readonly TickExchange[]): TickExchange {
  const best = exchanges.reduce<TickExchange | undefined>(
    (kept, exchange) => (kept === undefined || exchange.hostReceiveMs - exchange.hostSendMs < kept.hostReceiveMs - kept.hostSendMs ? exchange : kept),
    undefined,
  );
  if (!best) throw new RangeError('bestExchange needs at least one exchange');
  return best;
}

/**
 * Maps a board-side edge onto the host clock through one exchange. `ticks_ms()` floors, so a read of
 * T means the counter stood in [T, T+1): the edge lies in [before, after + 1) in ticks, and at the
 * exchange's host instant (somewhere in [send, receive]) the counter stood in [T, T+1). Hence
 *   host(edge) in [send + (before - T - 1), receive + (after + 1 - T)], widened by the rate allowance
 * over the ticks between exchange and edge.
 */
export function edgeFromTicks(edge: BoardTickEdge, exchange: TickExchange, rateAllowancePpm = RATE_ALLOWANCE_PPM): EdgeInterval {
  const lowTicksMs = ticksDiff(edge.ticksBeforeMs, exchange.ticksMs) - 1;
  const highTicksMs = ticksDiff(edge.ticksAfterMs, exchange.ticksMs) + 1;
  const rateMs = (Math.max(Math.abs(lowTicksMs), Math.abs(highTicksMs)) * rateAllowancePpm) / 1e6;
  const hostLowMs = exchange.hostSendMs + lowTicksMs - rateMs;
  const hostHighMs = exchange.hostReceiveMs + highTicksMs + rateMs;
  const roundTripMs = (exchange.hostReceiveMs - exchange.hostSendMs + 1) / 2;
  return { hostLowMs, hostHighMs, roundTripMs, readingMs: (hostHighMs - hostLowMs) / 2 - roundTripMs };
}

/** An edge mapped through several exchanges: the intersection, and which exchanges bound it. */
export interface ExchangedEdge extends EdgeInterval {
  /** Index of the exchange that gave the low bound, and of the one that gave the high bound. */
  lowFrom: number;
  highFrom: number;
}

/**
 * Maps a board-side edge onto the host clock through every exchange and intersects: each exchange
 * alone gives a true interval (edgeFromTicks), so their intersection is true too, and narrower than
 * the best one alone when delays are lopsided (one exchange's board read came early in its round
 * trip, another's late: the first bounds the edge from above, the second from below). `readingMs`
 * is the board loop's share (half the ticks between the reads around the edge, plus the floor of
 * ticks_ms); the rest of the half-width is what relating ticks to host time costs.
 */
export function edgeFromExchanges(edge: BoardTickEdge, exchanges: readonly TickExchange[], rateAllowancePpm = RATE_ALLOWANCE_PPM): ExchangedEdge {
  if (exchanges.length === 0) throw new RangeError('edgeFromExchanges needs at least one exchange');
  let hostLowMs = -Infinity;
  let hostHighMs = Infinity;
  let lowFrom = 0;
  let highFrom = 0;
  exchanges.forEach((exchange, index) => {
    const one = edgeFromTicks(edge, exchange, rateAllowancePpm);
    if (one.hostLowMs > hostLowMs) [hostLowMs, lowFrom] = [one.hostLowMs, index];
    if (one.hostHighMs < hostHighMs) [hostHighMs, highFrom] = [one.hostHighMs, index];
  });
  const halfWidthMs = (hostHighMs - hostLowMs) / 2;
  const readingMs = Math.min(halfWidthMs, (ticksDiff(edge.ticksAfterMs, edge.ticksBeforeMs) + 1) / 2);
  return { hostLowMs, hostHighMs, readingMs, roundTripMs: halfWidthMs - readingMs, lowFrom, highFrom };
}

/**
 * The narrowest half-width any exchanges can give this edge: even exchanges with no round trip, read
 * at every phase of a tick, leave the loop's ticks between the reads around the edge and one tick of
 * ticks_ms' floor. A reading that asks for narrower than this asks in vain until its time is up.
 */
export function edgeFloorHalfWidthMs(edge: BoardTickEdge): number {
  return (ticksDiff(edge.ticksAfterMs, edge.ticksBeforeMs) + 1) / 2;
}

/**
 * How narrow a reading may ask its exchanges to make this edge: `wantedMs`, or, for an edge whose own
 * ticks leave more than that, `shareMs` over its floor and the rate allowance over the ticks from the
 * edge to the latest exchange. Exchanges that keep going past this only spend the reading's time.
 */
export function exchangeTargetHalfWidthMs(
  edge: BoardTickEdge,
  exchanges: readonly TickExchange[],
  wantedMs: number,
  shareMs: number,
  rateAllowancePpm = RATE_ALLOWANCE_PPM,
): number {
  const latest = exchanges.at(-1);
  const rateMs = latest ? (Math.abs(ticksDiff(latest.ticksMs, edge.ticksAfterMs)) * rateAllowancePpm) / 1e6 : 0;
  return Math.max(wantedMs, edgeFloorHalfWidthMs(edge) + rateMs + shareMs);
}

/** One host poll of the board clock (AT+CCLK?): the board read `second` at an instant in [send, receive]. */
export interface ClockPoll {
  hostSendMs: number;
  hostReceiveMs: number;
  second: number;
}

/**
 * Intersects what every poll says about the instant the LAST poll's second began. A poll that read
 * second S_i, k_i = S_i - S_last seconds from it, says that second S_i began at or before its receive
 * time and S_i + 1 after its send time; board seconds last 1000 ms within the rate allowance:
 *   edge <= receive_i - 1000 k_i + 1000 |k_i| eps,   edge > send_i - 1000 (k_i + 1) - 1000 |k_i + 1| eps.
 * Undefined when the constraints contradict each other: no clock ticking once a second read these.
 */
export function bracketEdge(polls: readonly ClockPoll[], rateAllowancePpm = RATE_ALLOWANCE_PPM): EdgeInterval | undefined {
  const last = polls[polls.length - 1];
  if (!last) return undefined;
  const eps = rateAllowancePpm / 1e6;
  let hostLowMs = -Infinity;
  let hostHighMs = Infinity;
  let shortestRoundTripMs = Infinity;
  for (const poll of polls) {
    const k = poll.second - last.second;
    hostHighMs = Math.min(hostHighMs, poll.hostReceiveMs - 1000 * k + 1000 * Math.abs(k) * eps);
    hostLowMs = Math.max(hostLowMs, poll.hostSendMs - 1000 * (k + 1) - 1000 * Math.abs(k + 1) * eps);
    shortestRoundTripMs = Math.min(shortestRoundTripMs, poll.hostReceiveMs - poll.hostSendMs);
  }
  if (hostLowMs > hostHighMs) return undefined;
  const halfWidthMs = (hostHighMs - hostLowMs) / 2;
  // What one poll's round trip costs is the floor of what polling reaches; the rest is aim.
  const roundTripMs = Math.min(halfWidthMs, shortestRoundTripMs / 2);
  return { hostLowMs, hostHighMs, roundTripMs, readingMs: halfWidthMs - roundTripMs };
}

/**
 * When to send the next aimed poll: so its round trip's middle falls on the middle of the interval,
 * shifted by whole seconds to the first edge still ahead of `earliestSendMs`. Bisects the interval
 * (down to about one round trip, which worst-case bounds cannot beat).
 */
export function aimedSendMs(interval: EdgeInterval, roundTripMs: number, earliestSendMs: number): number {
  const middleMs = (interval.hostLowMs + interval.hostHighMs) / 2 - roundTripMs / 2;
  const secondsAhead = Math.max(0, Math.ceil((earliestSendMs - middleMs) / 1000));
  return middleMs + 1000 * secondsAhead;
}

export type ClockProblem = 'backwards' | 'jump';

/**
 * Linux rtctest's rules for two consecutive reads of a clock: it never goes backwards, and never
 * moves more than one second further than the time between the reads allows (`elapsedMaxMs`: the
 * most host or board time that can have passed between them).
 */
export function consecutiveReadProblem(previousSecond: number, nextSecond: number, elapsedMaxMs: number): ClockProblem | undefined {
  if (nextSecond < previousSecond) return 'backwards';
  const allowedSeconds = 1 + Math.floor((Math.max(0, elapsedMaxMs) * (1 + RATE_ALLOWANCE_PPM / 1e6)) / 1000);
  return nextSecond - previousSecond > allowedSeconds ? 'jump' : undefined;
}

/** A board's wall-clock fields as seconds since 1970 read as if UTC (its zone is not applied). */
export function tupleSeconds(localtime: LocaltimeTuple): number {
  const [year, month, mday, hour, minute, second] = localtime;
  return Date.UTC(year, month - 1, mday, hour, minute, second) / 1000;
}

/** `2026-12-02 00:30:05`, for messages. */
export function formatTuple(localtime: LocaltimeTuple): string {
  const [y, mo, d, h, mi, s] = localtime.map((n) => String(n).padStart(2, '0'));
  return `${y}-${mo}-${d} ${h}:${mi}:${s}`;
}
