/**
 * Source selection across servers, Marzullo's algorithm as chrony applies it: each server says "the
 * true offset is in [offset - uncertainty, offset + uncertainty]". Find the region covered by the
 * most intervals; it must be covered by a strict majority, else nobody can be trusted. Servers whose
 * intervals miss that region are falsetickers.
 *
 * (RFC 5905 adds a rule on midpoints; chrony and current ntpd do without it, and it rejects intervals
 * that only just touch, although the truth may well sit where they touch.)
 */

export interface SelectionCandidate {
  offsetMs: number;
  uncertaintyMs: number;
}

export type SelectionResult =
  | {
      ok: true;
      /** The majority region, ms. */
      lowMs: number;
      highMs: number;
      /** Indexes into the candidates. */
      truechimers: number[];
      falsetickers: number[];
    }
  | { ok: false; reason: string };

interface Edge {
  valueMs: number;
  /** +1 an interval starts, -1 one ends. Starts sort first at equal values: touching counts as overlapping. */
  step: 1 | -1;
}

export function selectTruechimers(candidates: readonly SelectionCandidate[]): SelectionResult {
  const n = candidates.length;
  if (n === 0) return { ok: false, reason: 'no candidates' };
  const radius = (candidate: SelectionCandidate) => Math.max(0, candidate.uncertaintyMs);
  const edges: Edge[] = candidates.flatMap((candidate) => [
    { valueMs: candidate.offsetMs - radius(candidate), step: 1 as const },
    { valueMs: candidate.offsetMs + radius(candidate), step: -1 as const },
  ]);
  edges.sort((a, b) => a.valueMs - b.valueMs || b.step - a.step);

  let depth = 0;
  let bestDepth = 0;
  let lowMs = Number.NaN;
  let highMs = Number.NaN;
  edges.forEach((edge, index) => {
    depth += edge.step;
    if (depth > bestDepth) {
      bestDepth = depth;
      lowMs = edge.valueMs;
      // The next edge is necessarily an end (depth just peaked): that is where the region ends.
      highMs = edges[index + 1]?.valueMs ?? edge.valueMs;
    }
  });
  if (2 * bestDepth <= n) {
    return { ok: false, reason: `no majority of the ${n} servers agree (at most ${bestDepth} overlap)` };
  }
  const truechimers: number[] = [];
  const falsetickers: number[] = [];
  candidates.forEach((candidate, index) => {
    const intersects = candidate.offsetMs - radius(candidate) <= highMs && candidate.offsetMs + radius(candidate) >= lowMs;
    (intersects ? truechimers : falsetickers).push(index);
  });
  return { ok: true, lowMs, highMs, truechimers, falsetickers };
}
