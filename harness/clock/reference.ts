/**
 * The reference query: what UTC is, by the host clock, and how sure we are. Every verdict the harness
 * gives rests on it, so it believes a server only after the checks in sntp/client.ts, keeps each
 * server's lowest-delay sample, and votes falsetickers out before answering.
 *
 * Uncertainty, documented because reports quote it: for one sample it is
 *   delay / 2                        (the reply could have spent any part of the round trip on either leg)
 * + root delay / 2 + root dispersion (the server's own bound on its error from UTC, RFC 5905 root distance)
 * + 2^precision                      (the server's timestamp granularity).
 * The true offset lies within ± that, provided the server is honest. The combined answer is the
 * surviving server with the smallest such bound, not an average: an average of bounded intervals is
 * bounded no tighter than the best of them, and one kept exchange keeps measuredAtHostMs exact.
 */
import { formatDurationMs } from '../core/duration.js';
import { InfrastructureError, InputError } from '../core/errors.js';
import { hostClock } from './hostclock.js';
import {
  DEFAULT_MAX_HOST_OFFSET_MS,
  DEFAULT_MAX_ROOT_DISTANCE_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  formatSpanMs,
  parseServerSpec,
  processKissState,
  queryServer,
  systemResolver,
  type KissState,
  type Resolver,
  type ServerQueryOutcome,
  type SntpSample,
} from './sntp/client.js';
import type { SntpKey } from './sntp/keys.js';
import { nsToMs } from './sntp/packet.js';
import { selectTruechimers } from './sntp/select.js';

export type { SntpKey, SntpKeyType, SntpKeyConfig } from './sntp/keys.js';
export { DEFAULT_MAX_HOST_OFFSET_MS } from './sntp/client.js';

export const DEFAULT_SAMPLES = 4;
export const DEFAULT_TIMEOUT_MS = 5_000;
export const MAX_SAMPLES = 64;
/**
 * Upper bounds on what a query may be told to wait or believe; beyond them the input is a mistake
 * (`99999999999h`), not a wish. A minute is twelve times the default deadline and room for 64 samples
 * from a slow server; a reference that needs longer is broken, and a run must not hang on it.
 */
export const MAX_TIMEOUT_MS = 60_000;
/** chrony's default is 16 s; a server claiming a minute from its own reference is no reference. */
export const MAX_ROOT_DISTANCE_BOUND_MS = 60_000;
/**
 * Ten years: well inside half the 136-year NTP era (68 years), beyond which the era of a timestamp can
 * no longer be told from the host clock; a rig whose host is further off must fix its clock first.
 */
export const MAX_HOST_OFFSET_BOUND_MS = 10 * 365 * 86_400_000;

export interface ReferenceQueryOptions {
  /** 'host', 'host:port', '[::1]:123', '127.0.0.1:11123'; default port 123. */
  servers: string[];
  /** Per server; default 4. */
  samples?: number;
  /** Overall deadline for the whole query (name lookup included), default 5000. */
  timeoutMs?: number;
  /** When given, every request is authenticated with the key `keyId` names, else with keys[0]. */
  keys?: SntpKey[];
  keyId?: number;
  signal?: AbortSignal;
  /** Root delay / 2 + root dispersion above this is not believed; default 16 s, like chrony. */
  maxRootDistanceMs?: number;
  /**
   * A server time further than this from the host clock is not believed; default one day (why:
   * DEFAULT_MAX_HOST_OFFSET_MS in sntp/client.ts), at most MAX_HOST_OFFSET_BOUND_MS.
   */
  maxHostOffsetMs?: number;
  /** Wait for one reply before sending a fresh request; default 1000, at most the whole timeout. */
  requestTimeoutMs?: number;
  /** Kiss-o'-death memory; default: shared by the whole process. */
  kissState?: KissState;
  /** Name resolution; default dns.lookup (IP literals skip it). */
  resolver?: Resolver;
}

export interface ServerAnswer {
  server: string;
  address?: string;
  ok: boolean;
  /** Why dropped or failed: 'falseticker', 'kiss DENY', 'no reply', 'no authenticated reply', 'unsynchronised (LI=3)', ... */
  reason?: string;
  /** The particulars behind `reason`: requests sent, replies ignored and why, the interval that outvoted it. */
  detail?: string;
  offsetMs?: number;
  delayMs?: number;
  uncertaintyMs?: number;
  stratum?: number;
  refId?: string;
  leap?: number;
  rootDistanceMs?: number;
  /** Index into `samples` of the lowest-delay sample, the one the figures above come from. */
  keptSample?: number;
  samples: { offsetMs: number; delayMs: number }[];
  /** Datagrams that were not the genuine answer (wrong source, origin mismatch, bad MAC, ...), by why. */
  ignored?: Record<string, number>;
}

export interface ReferenceResult {
  /** UTC ≈ host Date.now() + offsetMs (positive: the reference is ahead of the host). */
  offsetMs: number;
  /** The true offset lies within offsetMs ± uncertaintyMs (see the top of this file). */
  uncertaintyMs: number;
  /** Host wall clock (Date.now() scale, sub-ms) at the middle of the kept exchange. */
  measuredAtHostMs: number;
  /** Which server's answer was kept. */
  selectedServer: string;
  servers: ServerAnswer[];
}

/**
 * No server gave a usable answer; `servers` says why for each. Always the rig's fault (ERROR), never
 * the board's: with no reference there is nothing to judge a board by. `deadlineReached` tells "the
 * reference was slow" (a server still owed an answer when the query's deadline came) from "the
 * reference answered, but wrongly" (kiss, unsynchronised, implausible, falseticker).
 */
export class ReferenceUnavailableError extends InfrastructureError {
  constructor(
    message: string,
    readonly servers: ServerAnswer[],
    /** Host monotonic time the query took, ms. */
    readonly waitedMs: number = 0,
    /** The query's own deadline, ms. */
    readonly timeoutMs: number = DEFAULT_TIMEOUT_MS,
    readonly deadlineReached: boolean = false,
  ) {
    super(message);
    this.name = 'ReferenceUnavailableError';
  }
}

/** 'ntp1.lab:123 (192.0.2.1)', or just '127.0.0.1:11123' when the name is the address. */
export function serverLabel(answer: Pick<ServerAnswer, 'server' | 'address'>): string {
  const host = parseServerSpec(answer.server).host;
  return answer.address && answer.address !== host ? `${answer.server} (${answer.address})` : answer.server;
}

function describe(answer: ServerAnswer): string {
  const where = serverLabel(answer);
  const reason = answer.reason ?? 'no usable answer';
  const detail = answer.detail ? ` (${answer.detail})` : '';
  // "no authenticated reply from ntp1 (10.0.0.1)" reads right; "ntp1: falseticker" for the rest.
  return /^(no |kiss )/.test(reason) ? `${reason} from ${where}${detail}` : `${where}: ${reason}${detail}`;
}

function keptIndex(samples: readonly SntpSample[]): number {
  let best = 0;
  samples.forEach((sample, index) => {
    if (sample.delayMs < (samples[best] as SntpSample).delayMs) best = index;
  });
  return best;
}

function toAnswer(outcome: ServerQueryOutcome): { answer: ServerAnswer; kept?: SntpSample } {
  const answer: ServerAnswer = {
    server: outcome.server,
    ok: false,
    samples: outcome.samples.map(({ offsetMs, delayMs }) => ({ offsetMs, delayMs })),
    ...(outcome.address ? { address: outcome.address } : {}),
    ...(Object.keys(outcome.ignored).length > 0 ? { ignored: outcome.ignored } : {}),
  };
  if (outcome.samples.length === 0) {
    answer.reason = outcome.reason ?? 'no reply';
    if (outcome.detail) answer.detail = outcome.detail;
    return { answer };
  }
  const keptSample = keptIndex(outcome.samples);
  const kept = outcome.samples[keptSample] as SntpSample;
  Object.assign(answer, {
    ok: true,
    offsetMs: kept.offsetMs,
    delayMs: kept.delayMs,
    uncertaintyMs: kept.uncertaintyMs,
    stratum: kept.stratum,
    refId: kept.refId,
    leap: kept.leap,
    rootDistanceMs: kept.rootDelayMs / 2 + kept.rootDispersionMs,
    keptSample,
  });
  return { answer, kept };
}

export interface CheckedReferenceOptions {
  samples: number;
  timeoutMs: number;
  requestTimeoutMs: number;
  maxRootDistanceMs: number;
  maxHostOffsetMs: number;
  key?: SntpKey;
}

function checkBoundedMs(what: string, valueMs: number, maxMs: number, format = formatDurationMs): number {
  if (!(valueMs > 0) || !(valueMs <= maxMs)) {
    throw new InputError(`reference query: ${what} must be a positive duration of at most ${format(maxMs)}, got ${valueMs}ms`);
  }
  return valueMs;
}

/**
 * Every option of a query checked, defaults filled in; InputError (exit 2) for the first mistake.
 * queryReference calls it before sending anything; a preflight may call it before opening a port.
 */
export function checkReferenceOptions(opts: ReferenceQueryOptions): CheckedReferenceOptions {
  if (opts.servers.length === 0) throw new InputError('reference query: no NTP servers given');
  opts.servers.forEach(parseServerSpec);
  const samples = opts.samples ?? DEFAULT_SAMPLES;
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES) {
    throw new InputError(`reference query: samples must be an integer from 1 to ${MAX_SAMPLES}, got ${samples}`);
  }
  const timeoutMs = checkBoundedMs('timeout', opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
  const requestTimeoutMs = checkBoundedMs(
    'request timeout',
    opts.requestTimeoutMs ?? Math.min(DEFAULT_REQUEST_TIMEOUT_MS, timeoutMs),
    timeoutMs,
  );
  const maxRootDistanceMs = checkBoundedMs(
    'root distance bound',
    opts.maxRootDistanceMs ?? DEFAULT_MAX_ROOT_DISTANCE_MS,
    MAX_ROOT_DISTANCE_BOUND_MS,
  );
  const maxHostOffsetMs = checkBoundedMs(
    'plausibility bound (largest offset from the host clock)',
    opts.maxHostOffsetMs ?? DEFAULT_MAX_HOST_OFFSET_MS,
    MAX_HOST_OFFSET_BOUND_MS,
    formatSpanMs,
  );
  const keys = opts.keys ?? [];
  if (opts.keyId !== undefined && !keys.some((key) => key.id === opts.keyId)) {
    throw new InputError(`reference query: key id ${opts.keyId} is not among the keys given`);
  }
  const key = opts.keyId !== undefined ? keys.find((candidate) => candidate.id === opts.keyId) : keys[0];
  return { samples, timeoutMs, requestTimeoutMs, maxRootDistanceMs, maxHostOffsetMs, ...(key ? { key } : {}) };
}

/** Within this of its deadline a query counts as having waited it out (timers fire a little early). */
const DEADLINE_REACHED_SLACK_MS = 5;

/**
 * Asks every server in parallel for `samples` samples within `timeoutMs`, keeps each server's
 * lowest-delay sample, votes out falsetickers and returns the best survivor. Throws InputError for
 * bad options and ReferenceUnavailableError (an InfrastructureError) when no server gives a usable
 * answer, naming each server and why, and how long it waited. When `signal` aborts, every socket and
 * timer is dropped at once and the promise rejects with the signal's reason, so a stopped step's own
 * error (its deadline, a stopped run) is what its caller sees.
 */
export async function queryReference(opts: ReferenceQueryOptions): Promise<ReferenceResult> {
  const { samples, timeoutMs, requestTimeoutMs, maxRootDistanceMs, maxHostOffsetMs, key } = checkReferenceOptions(opts);
  const specs = opts.servers.map(parseServerSpec);
  opts.signal?.throwIfAborted();
  const clock = hostClock;
  clock.refresh();
  const startedMonoMs = performance.now();
  const deadlineMonoMs = startedMonoMs + timeoutMs;
  const outcomes = await Promise.all(
    specs.map((spec) =>
      queryServer(spec, {
        samples,
        deadlineMonoMs,
        maxRootDistanceMs,
        maxHostOffsetMs,
        requestTimeoutMs,
        clock,
        kissState: opts.kissState ?? processKissState,
        resolver: opts.resolver ?? systemResolver,
        ...(key ? { key } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    ),
  );
  opts.signal?.throwIfAborted();

  const answers = outcomes.map(toAnswer);
  const candidates = answers.flatMap((entry, index) => (entry.kept ? [{ index, kept: entry.kept }] : []));
  const servers = answers.map((entry) => entry.answer);

  if (candidates.length > 1) {
    const selection = selectTruechimers(candidates.map(({ kept }) => kept));
    if (!selection.ok) {
      for (const { index } of candidates) {
        const answer = servers[index] as ServerAnswer;
        answer.ok = false;
        answer.reason = 'no majority';
        answer.detail = `${selection.reason}: ` + candidates
          .map(({ index: other, kept }) => `${servers[other]?.server} says ${kept.offsetMs.toFixed(3)} ± ${kept.uncertaintyMs.toFixed(3)} ms`)
          .join(', ');
      }
    } else {
      for (const position of selection.falsetickers) {
        const { index, kept } = candidates[position] as (typeof candidates)[number];
        const answer = servers[index] as ServerAnswer;
        answer.ok = false;
        answer.reason = 'falseticker';
        answer.detail =
          `offset ${kept.offsetMs.toFixed(3)} ± ${kept.uncertaintyMs.toFixed(3)} ms misses the majority interval ` +
          `[${selection.lowMs.toFixed(3)}, ${selection.highMs.toFixed(3)}] ms`;
      }
    }
  }

  let best: { index: number; kept: SntpSample } | undefined;
  for (const candidate of candidates) {
    if (!servers[candidate.index]?.ok) continue;
    if (!best || candidate.kept.uncertaintyMs < best.kept.uncertaintyMs) best = candidate;
  }
  if (!best) {
    const authHint = key ? ` with key ${key.id} (${key.type})` : '';
    const waitedMs = performance.now() - startedMonoMs;
    const deadlineReached = performance.now() >= deadlineMonoMs - DEADLINE_REACHED_SLACK_MS;
    const when = deadlineReached
      ? `within the ${formatDurationMs(timeoutMs)} deadline (waited ${formatDurationMs(waitedMs)})`
      : `(after ${formatDurationMs(waitedMs)} of a ${formatDurationMs(timeoutMs)} deadline)`;
    throw new ReferenceUnavailableError(
      `reference clock: no usable answer ${when} from ` +
        `${servers.length === 1 ? 'the server' : `any of ${servers.length} servers`}${authHint}: ` +
        servers.map(describe).join('; '),
      servers,
      waitedMs,
      timeoutMs,
      deadlineReached,
    );
  }
  const { kept } = best;
  return {
    offsetMs: kept.offsetMs,
    uncertaintyMs: kept.uncertaintyMs,
    measuredAtHostMs: nsToMs((kept.t1HostNs + kept.t4HostNs) / 2n),
    selectedServer: servers[best.index]?.server ?? '',
    servers,
  };
}
