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
import { InfrastructureError, InputError } from '../core/errors.js';
import { hostClock } from './hostclock.js';
import {
  DEFAULT_MAX_ROOT_DISTANCE_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
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

export const DEFAULT_SAMPLES = 4;
export const DEFAULT_TIMEOUT_MS = 5_000;
const MAX_SAMPLES = 64;

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
  /** Wait for one reply before sending a fresh request; default 1000. */
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

/** No server gave a usable answer; `servers` says why for each. */
export class ReferenceUnavailableError extends InfrastructureError {
  constructor(
    message: string,
    readonly servers: ServerAnswer[],
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

function checkOptions(opts: ReferenceQueryOptions): { samples: number; timeoutMs: number; key?: SntpKey } {
  if (opts.servers.length === 0) throw new InputError('reference query: no NTP servers given');
  const samples = opts.samples ?? DEFAULT_SAMPLES;
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES) {
    throw new InputError(`reference query: samples must be an integer from 1 to ${MAX_SAMPLES}, got ${samples}`);
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new InputError(`reference query: timeout must be a positive duration, got ${timeoutMs}ms`);
  }
  const keys = opts.keys ?? [];
  if (opts.keyId !== undefined && !keys.some((key) => key.id === opts.keyId)) {
    throw new InputError(`reference query: key id ${opts.keyId} is not among the keys given`);
  }
  const key = opts.keyId !== undefined ? keys.find((candidate) => candidate.id === opts.keyId) : keys[0];
  return { samples, timeoutMs, ...(key ? { key } : {}) };
}

/**
 * Asks every server in parallel for `samples` samples within `timeoutMs`, keeps each server's
 * lowest-delay sample, votes out falsetickers and returns the best survivor. Throws InputError for
 * bad options and ReferenceUnavailableError (an InfrastructureError) when no server gives a usable
 * answer, naming each server and why.
 */
export async function queryReference(opts: ReferenceQueryOptions): Promise<ReferenceResult> {
  const { samples, timeoutMs, key } = checkOptions(opts);
  const specs = opts.servers.map(parseServerSpec);
  opts.signal?.throwIfAborted();
  const clock = hostClock;
  clock.refresh();
  const deadlineMonoMs = performance.now() + timeoutMs;
  const outcomes = await Promise.all(
    specs.map((spec) =>
      queryServer(spec, {
        samples,
        deadlineMonoMs,
        maxRootDistanceMs: opts.maxRootDistanceMs ?? DEFAULT_MAX_ROOT_DISTANCE_MS,
        requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
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
    throw new ReferenceUnavailableError(
      `no usable reference time from ${servers.length === 1 ? 'the server' : `any of ${servers.length} servers`}` +
        `${authHint}: ` +
        servers.map(describe).join('; '),
      servers,
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
