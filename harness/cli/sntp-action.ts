/** What `qhil sntp` does (sntp.ts declares it): flags to query options, the query, its printout. */
import { ExitCode, type CliIo } from './command.js';
import { terminalText, type SntpFlags } from './sntp.js';
import { DurationSyntaxError, parseDurationMs } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import {
  MAX_HOST_OFFSET_BOUND_MS,
  MAX_ROOT_DISTANCE_BOUND_MS,
  MAX_SAMPLES,
  MAX_TIMEOUT_MS,
  queryReference,
  ReferenceUnavailableError,
  serverLabel,
  type ReferenceQueryOptions, type ReferenceResult, type ServerAnswer } from '../clock/reference.js';
import type { SntpKey } from '../clock/sntp/keys.js';
import { formatSpanMs, parseServerSpec } from '../clock/sntp/client.js';

/** A positive duration of at most `maxMs`: a wait beyond its bound is a typo, and must not hang the query. */
function parseDurationFlag(flag: string, text: string, maxMs: number, why: string): number {
  let ms: number;
  try {
    ms = parseDurationMs(text);
  } catch (error) {
    if (error instanceof DurationSyntaxError) throw new InputError(`${flag}: ${error.message}`);
    throw error;
  }
  if (!(ms > 0)) throw new InputError(`${flag}: must be positive, got ${JSON.stringify(text)}`);
  if (!(ms <= maxMs)) throw new InputError(`${flag}: at most ${formatSpanMs(maxMs)} (${why}), got ${JSON.stringify(text)}`);
  return ms;
}

/** JSON.stringify leaves DEL, the C1 controls and the bidi overrides raw; escape them too. */
function terminalJson(value: unknown): string {
  return terminalText(JSON.stringify(value, null, 2));
}

/** Turns flags into query options; every mistake is an InputError (exit 2) before any packet is sent. */
export async function sntpOptionsFromFlags(servers: string[], flags: SntpFlags): Promise<ReferenceQueryOptions> {
  servers.forEach(parseServerSpec);
  let samples: number | undefined;
  if (flags.samples !== undefined) {
    samples = /^\d+$/.test(flags.samples) ? Number(flags.samples) : Number.NaN;
    if (!(samples >= 1 && samples <= MAX_SAMPLES)) {
      throw new InputError(`--samples: expected a whole number from 1 to ${MAX_SAMPLES}, got ${JSON.stringify(flags.samples)}`);
    }
  }
  const keys: SntpKey[] = [];
  let keyId: number | undefined;
  if (flags.key.length > 0 || flags.keyFile !== undefined || flags.keyId !== undefined) {
    // Key parsing loads only when a key is given: most queries are unauthenticated.
    const { loadKeyFile, parseKeyId, parseKeySpec } = await import('../clock/sntp/keys.js');
    keys.push(...flags.key.map((spec) => parseKeySpec(spec)));
    if (flags.keyFile) keys.push(...(await loadKeyFile(flags.keyFile)));
    keyId = flags.keyId !== undefined ? parseKeyId(flags.keyId, '--key-id') : undefined;
  }
  if (keyId !== undefined && !keys.some((key) => key.id === keyId)) {
    throw new InputError(`--key-id: no key ${keyId} among --key and --key-file`);
  }
  return {
    servers,
    timeoutMs: parseDurationFlag('--timeout', flags.timeout, MAX_TIMEOUT_MS, 'the deadline of one reference query'),
    ...(samples !== undefined ? { samples } : {}),
    ...(keys.length > 0 ? { keys } : {}),
    ...(keyId !== undefined ? { keyId } : {}),
    ...(flags.maxDistance !== undefined
      ? { maxRootDistanceMs: parseDurationFlag('--max-distance', flags.maxDistance, MAX_ROOT_DISTANCE_BOUND_MS, 'a server further from its own reference is no reference') }
      : {}),
    ...(flags.maxOffset !== undefined
      ? { maxHostOffsetMs: parseDurationFlag('--max-offset', flags.maxOffset, MAX_HOST_OFFSET_BOUND_MS, 'beyond it the NTP era is ambiguous') }
      : {}),
  };
}

const LEAP_TEXT = ['none', '+1 s', '-1 s', 'unsynchronised'];

function ms(value: number | undefined, signed = false): string {
  if (value === undefined) return '-';
  return `${signed && value >= 0 ? '+' : ''}${value.toFixed(3)} ms`;
}

function serverLine(answer: ServerAnswer): string {
  const where = serverLabel(answer);
  const measured =
    answer.offsetMs !== undefined
      ? `offset ${ms(answer.offsetMs, true)}  delay ${ms(answer.delayMs)}  ± ${ms(answer.uncertaintyMs)}  ` +
        `stratum ${answer.stratum}  refid ${answer.refId}  leap ${LEAP_TEXT[answer.leap ?? 0]}  ` +
        `kept sample ${(answer.keptSample ?? 0) + 1} of ${answer.samples.length}`
      : '';
  const status = answer.ok ? 'ok' : `DROPPED: ${answer.reason}${answer.detail ? ` (${answer.detail})` : ''}`;
  return `${where}  ${[measured, status].filter(Boolean).join('  ')}\n`;
}

export function formatReference(result: ReferenceResult): string {
  return (
    result.servers.map(serverLine).join('') +
    `combined: offset ${ms(result.offsetMs, true)} ± ${ms(result.uncertaintyMs)} from ${result.selectedServer}, ` +
    `measured at ${new Date(result.measuredAtHostMs).toISOString()} (host clock)\n`
  );
}

export async function runSntp(servers: string[], flags: SntpFlags, io: CliIo): Promise<ExitCode> {
  const options = await sntpOptionsFromFlags(servers, flags);
  let result: ReferenceResult;
  try {
    result = await queryReference(options);
  } catch (error) {
    if (!(error instanceof ReferenceUnavailableError)) throw error;
    // Scripts asking for JSON get JSON on failure too: each server's answer and why it failed.
    if (flags.json) io.stdout(`${terminalJson({ error: error.message, servers: error.servers })}\n`);
    io.stderr(`qhil: ${terminalText(error.message)}\n`);
    return ExitCode.Infrastructure;
  }
  io.stdout(flags.json ? `${terminalJson(result)}\n` : terminalText(formatReference(result)));
  return ExitCode.Ok;
}

