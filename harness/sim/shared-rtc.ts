/**
 * The board RTC in shared memory, so the VM thread answers `utime.localtime()` itself, as a real
 * board reads its RTC in microseconds, instead of a bridge call to the board worker per read (a
 * cross-thread round trip that a loaded host stretches to milliseconds, which widened edge-timed
 * readings). The board worker publishes the RTC's state on every change (set, sync, step, drift,
 * `utime.setTimeZone`); the VM thread computes the reading from it.
 *
 * Clock: `atMonoMs` is process.hrtime in ms, the one monotonic clock every thread of the process
 * shares. One writer (the board worker); a sequence number (odd while writing) lets a reader retry
 * a read that raced a write.
 */

const SEQ = 0;
/** Float64 slots after the Int32 sequence number (8-byte aligned). */
const READING_MS = 1;
const AT_MONO_MS = 2;
const DRIFT_PPM = 3;
const ZONE_HOURS = 4;
const BYTES = 8 * 5;

export interface RtcState {
  /** The RTC's wall-clock reading, ms since 1970 as if UTC (it is in the board's zone), at `atMonoMs`. */
  readingMs: number;
  atMonoMs: number;
  driftPpm: number;
  /** `utime.setTimeZone()` hours, added by `localtime()`. */
  zoneHours: number;
}

/** process.hrtime as ms with fractions: the clock `RtcState.atMonoMs` is on. */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class SharedRtc {
  private readonly seq: Int32Array;
  private readonly values: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.seq = new Int32Array(buffer, 0, 1);
    this.values = new Float64Array(buffer, 0, 5);
  }

  /** Board worker: the state as of now. */
  publish(state: RtcState): void {
    Atomics.add(this.seq, SEQ, 1);
    this.values[READING_MS] = state.readingMs;
    this.values[AT_MONO_MS] = state.atMonoMs;
    this.values[DRIFT_PPM] = state.driftPpm;
    this.values[ZONE_HOURS] = state.zoneHours;
    Atomics.add(this.seq, SEQ, 1);
    // Wakes a VM thread sleeping in sleepUnlessChanged: a loop polling the clock sees the change at once.
    Atomics.notify(this.seq, SEQ);
  }

  /**
   * VM thread: the reading's whole second at `nowMonoMs` and the host ms until the next one
   * (Infinity: a stopped clock); undefined before the first publish.
   */
  secondAndNext(nowMonoMs = monoMs()): { second: number; toNextMs: number } | undefined {
    const state = this.read();
    if (!state) return undefined;
    const rate = 1 + state.driftPpm / 1e6;
    const readingMs = state.readingMs + (nowMonoMs - state.atMonoMs) * rate;
    const second = Math.floor(readingMs / 1000);
    return { second, toNextMs: rate > 0 ? ((second + 1) * 1000 - readingMs) / rate : Infinity };
  }

  /** VM thread: sleeps up to `ms`, waking early when the board worker publishes a change. */
  sleepUnlessChanged(ms: number): void {
    Atomics.wait(this.seq, SEQ, Atomics.load(this.seq, SEQ), ms);
  }

  /** VM thread: the state, or undefined before the first publish. */
  read(): RtcState | undefined {
    for (;;) {
      const before = Atomics.load(this.seq, SEQ);
      if (before === 0) return undefined;
      if (before % 2 === 1) continue;
      const state = {
        readingMs: this.values[READING_MS] ?? 0,
        atMonoMs: this.values[AT_MONO_MS] ?? 0,
        driftPpm: this.values[DRIFT_PPM] ?? 0,
        zoneHours: this.values[ZONE_HOURS] ?? 0,
      };
      if (Atomics.load(this.seq, SEQ) === before) return state;
    }
  }

  /** `utime.localtime()` now: (year, month, mday, hour, minute, second, weekday 0=Monday, yearday); undefined before the first publish. */
  localtime(nowMonoMs = monoMs()): number[] | undefined {
    const state = this.read();
    if (!state) return undefined;
    const readingMs = state.readingMs + (nowMonoMs - state.atMonoMs) * (1 + state.driftPpm / 1e6);
    const date = new Date((Math.floor(readingMs / 1000) + state.zoneHours * 3600) * 1000);
    const [year, month, day] = [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()];
    const yearday = Math.floor((Date.UTC(year, month, day) - Date.UTC(year, 0, 1)) / 86_400_000) + 1;
    return [year, month + 1, day, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), (date.getUTCDay() + 6) % 7, yearday];
  }
}
