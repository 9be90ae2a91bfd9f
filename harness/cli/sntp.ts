/**
 * `qhil sntp <server...> [--samples N] [--key <id>:<type>:<hex>] [--key-file F] [--key-id N]
 *  [--timeout 5s] [--max-distance 16s] [--json]`: the reference query on its own.
 */
import { Option, type Command } from 'commander';
import { ExitCode, type CliCommand, type CliIo } from './command.js';
import { DurationSyntaxError, parseDurationMs } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import {
  queryReference,
  ReferenceUnavailableError,
  serverLabel,
  type ReferenceQueryOptions, type ReferenceResult, type ServerAnswer } from '../clock/reference.js';
import { loadKeyFile, parseKeyId, parseKeySpec, type SntpKey } from '../clock/sntp/keys.js';
import { parseServerSpec } from '../clock/sntp/client.js';

interface SntpFlags {
  samples?: string;
  key: string[];
  keyFile?: string;
  keyId?: string;
  timeout: string;
  maxDistance?: string;
  json?: boolean;
}

function parseDurationFlag(flag: string, text: string): number {
  try {
    const ms = parseDurationMs(text);
    if (!(ms > 0)) throw new InputError(`${flag}: must be positive, got "${text}"`);
    return ms;
  } catch (error) {
    if (error instanceof DurationSyntaxError) throw new InputError(`${flag}: ${error.message}`);
    throw error;
  }
}

/** Turns flags into query options; every mistake is an InputError (exit 2) before any packet is sent. */
export async function sntpOptionsFromFlags(servers: string[], flags: SntpFlags): Promise<ReferenceQueryOptions> {
  servers.forEach(parseServerSpec);
  let samples: number | undefined;
  if (flags.samples !== undefined) {
    samples = /^\d+$/.test(flags.samples) ? Number(flags.samples) : Number.NaN;
    if (!(samples >= 1 && samples <= 64)) throw new InputError(`--samples: expected 1 to 64, got "${flags.samples}"`);
  }
  const keys: SntpKey[] = flags.key.map((spec) => parseKeySpec(spec));
  if (flags.keyFile) keys.push(...(await loadKeyFile(flags.keyFile)));
  const keyId = flags.keyId !== undefined ? parseKeyId(flags.keyId, '--key-id') : undefined;
  if (keyId !== undefined && !keys.some((key) => key.id === keyId)) {
    throw new InputError(`--key-id: no key ${keyId} among --key and --key-file`);
  }
  return {
    servers,
    timeoutMs: parseDurationFlag('--timeout', flags.timeout),
    ...(samples !== undefined ? { samples } : {}),
    ...(keys.length > 0 ? { keys } : {}),
    ...(keyId !== undefined ? { keyId } : {}),
    ...(flags.maxDistance !== undefined ? { maxRootDistanceMs: parseDurationFlag('--max-distance', flags.maxDistance) } : {}),
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

async function runSntp(servers: string[], flags: SntpFlags, io: CliIo): Promise<ExitCode> {
  const options = await sntpOptionsFromFlags(servers, flags);
  let result: ReferenceResult;
  try {
    result = await queryReference(options);
  } catch (error) {
    // Scripts asking for JSON get JSON on failure too: each server's answer and why it failed.
    if (!(flags.json && error instanceof ReferenceUnavailableError)) throw error;
    io.stdout(`${JSON.stringify({ error: error.message, servers: error.servers }, null, 2)}\n`);
    io.stderr(`qhil: ${error.message}\n`);
    return ExitCode.Infrastructure;
  }
  io.stdout(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatReference(result));
  return ExitCode.Ok;
}

export const sntpCommand: CliCommand = {
  register(program: Command, io: CliIo, setExit: (code: ExitCode) => void): void {
    program
      .command('sntp')
      .description('query NTP servers the way the reference check does, and print what each said')
      .argument('<server...>', "host, host:port, [v6addr]:port (default port 123)")
      .option('--samples <n>', 'samples per server (the lowest-delay one is kept); default 4')
      .addOption(
        new Option('--key <id:type:hex>', 'authenticate with this key (type MD5, SHA1 or AES128); repeatable')
          .default([])
          .argParser((value: string, previous: string[]) => [...previous, value]),
      )
      .option('--key-file <file>', "chrony-format key file ('1 SHA1 HEX:...')")
      .option('--key-id <n>', 'which key to use (default: the first --key, else the first in --key-file)')
      .option('--timeout <duration>', 'deadline for the whole query', '5s')
      .option('--max-distance <duration>', "largest root distance believed (default 16s, like chrony)")
      .option('--json', 'print the whole result as JSON')
      .action(async (serverArgs: string[], flags: SntpFlags) => {
        setExit(await runSntp(serverArgs, flags, io));
      });
  },
};
