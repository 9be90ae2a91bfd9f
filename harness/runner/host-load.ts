import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';

/**
 * How stalled the host itself has been, so a timeout on a host too busy to keep time (a rig of 128
 * simulated boards on two cores) is the rig's ERROR, never the firmware's FAIL.
 *
 * Node's event-loop delay histogram is sampled into slots of `SLOT_MS` (host monotonic time); a
 * question about an interval is answered from the slots it overlaps. The histogram measures how late
 * the loop ran its own timer, which is exactly the delay a deadline timer or a byte handler suffered.
 */
const SLOT_MS = 100;
const KEEP_SLOTS = 6000; // ten minutes

interface Slot {
  /** Host monotonic ms (performance.now()) at the end of the slot. */
  endMs: number;
  /** The longest event-loop delay seen in the slot, ms. */
  maxDelayMs: number;
}

export class HostLoadMonitor {
  private readonly histogram: IntervalHistogram;
  private readonly slots: Slot[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastSampleMs = performance.now();
  private users = 0;

  constructor() {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
  }

  /** Starts sampling (counted: every start needs a stop). */
  start(): void {
    this.users++;
    if (this.timer) return;
    this.histogram.reset();
    this.histogram.enable();
    this.lastSampleMs = performance.now();
    this.timer = setInterval(() => this.sample(), SLOT_MS);
    this.timer.unref();
  }

  stop(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.histogram.disable();
  }

  /**
   * The longest stall of the host's event loop between two host monotonic instants, ms. A stall is
   * also seen as a late sample: a slot that ended far later than it should have.
   */
  maxStallMs(fromMs: number, toMs: number = performance.now()): number {
    this.sample();
    // A stall is seen when it ends (the late timer fires): it covered [endMs - maxDelayMs, endMs].
    // Only the part inside [fromMs, toMs] counts against this interval.
    let worst = 0;
    for (const slot of this.slots) {
      const overlapMs = Math.min(slot.endMs, toMs) - Math.max(slot.endMs - slot.maxDelayMs, fromMs);
      if (overlapMs > 0) worst = Math.max(worst, overlapMs);
    }
    return worst;
  }

  private sample(): void {
    if (!this.timer) return;
    const now = performance.now();
    // The histogram is in ns; a sampling timer that itself ran late is a stall the histogram may not
    // have finished counting yet.
    const histogramMaxMs = this.histogram.max > 0 ? this.histogram.max / 1e6 : 0;
    const lateMs = Math.max(0, now - this.lastSampleMs - SLOT_MS);
    this.histogram.reset();
    this.lastSampleMs = now;
    this.slots.push({ endMs: now, maxDelayMs: Math.max(histogramMaxMs, lateMs) });
    if (this.slots.length > KEEP_SLOTS) this.slots.splice(0, this.slots.length - KEEP_SLOTS);
  }
}

/**
 * Linux's CPU pressure (PSI, /proc/pressure/cpu): microseconds during which some runnable task waited
 * for a CPU, since boot. The difference over an interval, divided by its length, is the share of that
 * interval the host had more work than cores: the starvation a simulated board's threads suffered.
 * Undefined where PSI is not available.
 */
export function cpuPressureTotalUs(): number | undefined {
  try {
    const text = readFileSync('/proc/pressure/cpu', 'utf8');
    const total = /^some .*total=(\d+)/m.exec(text)?.[1];
    return total === undefined ? undefined : Number(total);
  } catch {
    return undefined;
  }
}

/** One monitor per process: every board and step asks the same one. */
export const hostLoad = new HostLoadMonitor();
