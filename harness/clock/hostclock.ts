/**
 * The host clock the reference query measures against: Unix nanoseconds on the host wall clock, read
 * through the monotonic high-resolution timer.
 *
 * Why not Date.now()? It has 1 ms resolution, and a loopback round trip is ~0.05 ms. Why not
 * performance.timeOrigin + performance.now()? It is anchored once at process start, so after the
 * host clock is stepped or slewed it drifts away from Date.now(), and our offsets are defined against
 * Date.now(). So we anchor process.hrtime to the instants Date.now() ticks over to the next
 * millisecond. One edge is not enough: a descheduled process (a busy CI runner, a VM losing CPU)
 * notices an edge late, by up to milliseconds. Each edge bounds wall - hrtime from below and above;
 * the largest lower bound over several edges is the promptly seen one. `refresh()` (at the start of
 * each query) checks one more edge: a wall clock that moved forward tightens the anchor, one that
 * moved back (a step or a slew the other way) triggers a full re-anchor.
 */
export interface HostClock {
  /** Host wall clock, Unix ns, monotonic between refreshes. */
  nowNs(): bigint;
  /** Re-checks the alignment with Date.now(); cheap (one millisecond edge at most). */
  refresh(): void;
}

/** Edges looked at for a full anchor: each costs up to 1 ms of spinning. */
const ANCHOR_EDGES = 5;

interface EdgeBounds {
  /** wall - hrtime at the edge lies in [lowNs, highNs]. */
  lowNs: bigint;
  highNs: bigint;
}

/** Longest we spin for an edge: a frozen wall clock (e.g. under libfaketime) must not hang us. */
const EDGE_SPIN_LIMIT_NS = 20_000_000n;

/** Spins until the next millisecond edge of Date.now() (normally within 1 ms). */
function measureEdge(): EdgeBounds {
  let previousMs = Date.now();
  let previousBeforeNs = process.hrtime.bigint();
  const giveUpNs = previousBeforeNs + EDGE_SPIN_LIMIT_NS;
  for (;;) {
    const beforeNs = process.hrtime.bigint();
    const wallMs = Date.now();
    const afterNs = process.hrtime.bigint();
    if (afterNs > giveUpNs) {
      // No edge: all we know is that the wall clock reads wallMs, to the millisecond.
      const wallNs = BigInt(wallMs) * 1_000_000n;
      return { lowNs: wallNs - afterNs, highNs: wallNs + 1_000_000n - beforeNs };
    }
    if (wallMs !== previousMs) {
      // The edge fell between the previous Date.now() call and this one: after previousBeforeNs, before afterNs.
      const wallNs = BigInt(wallMs) * 1_000_000n;
      return { lowNs: wallNs - afterNs, highNs: wallNs - previousBeforeNs };
    }
    previousMs = wallMs;
    previousBeforeNs = beforeNs;
  }
}

/** Anchors on first use, so importing this costs nothing. */
export function createHostClock(): HostClock {
  let offsetNs: bigint | undefined; // wall - hrtime
  const anchor = (): bigint => {
    for (let attempt = 0; attempt < 3; attempt++) {
      let best = measureEdge();
      let lowestHighNs = best.highNs;
      for (let i = 1; i < ANCHOR_EDGES; i++) {
        const edge = measureEdge();
        if (edge.lowNs > best.lowNs) best = edge;
        if (edge.highNs < lowestHighNs) lowestHighNs = edge.highNs;
      }
      offsetNs = best.lowNs;
      // Consistent edges: done. Otherwise the wall clock moved while we looked; look again.
      if (lowestHighNs >= best.lowNs) break;
    }
    return offsetNs as bigint;
  };
  return {
    nowNs: () => process.hrtime.bigint() + (offsetNs ?? anchor()),
    refresh: () => {
      if (offsetNs === undefined) {
        anchor();
        return;
      }
      const edge = measureEdge();
      if (edge.highNs < offsetNs) anchor();
      else if (edge.lowNs > offsetNs) offsetNs = edge.lowNs;
    },
  };
}

/** The process-wide host clock: the client and the in-process server read the same one. */
export const hostClock: HostClock = createHostClock();
