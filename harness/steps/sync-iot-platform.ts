/**
 * `sync: { method: iot-platform, ... }`: the board synchronises its clock with the IoT platform's NTP
 * service over MQTT (board/iot-platform.ts), and the step judges the exchange:
 *
 *  - a refused sign-in, an unreachable broker, a silent platform, an unusable answer (a key missing, a
 *    value not a number, serverSendTime before serverRecvTime) or a round trip too long to trust are
 *    the environment's: ERROR, never the board's;
 *  - the platform's own clock is checked against the reference: its timestamps must fall, on the
 *    reference's scale, inside the host's send/receive bracket of the exchange (± platform-tolerance).
 *    A platform whose clock is wrong is an ERROR: the board would faithfully copy it;
 *  - a board that computes the time wrong, or sets its RTC to something else, FAILs.
 */
import { z } from 'zod';
import { BoardEnvironmentError, BoardError, InputError } from '../core/errors.js';
import { formatDurationMs } from '../core/duration.js';
import { durationMs, positiveDurationMs } from '../core/schema.js';
import { syncOverPlatform, type PlatformExchangeResult } from '../board/iot-platform.js';
import { platformDeviceTimeMs, platformOffsetMs } from '../platform/ntp-message.js';
import { connackMeaning, deviceSignIn, SIGN_METHODS } from '../platform/signin.js';
import { quoteBoardText } from '../channel/text.js';
import type { StepContext, StepReport } from './step.js';

/** `host`, `host:port`, `[v6]:port`, optionally as `mqtt://...`; the port defaults to 1883. */
export function parseBroker(text: string): { host: string; port: number } | undefined {
  const match = /^(?:mqtt:\/\/)?(\[[^\]]+\]|[^:/[\]\s]+)(?::(\d{1,5}))?\/?$/.exec(text.trim());
  const port = match?.[2] === undefined ? 1883 : Number(match[2]);
  if (!match || !(port >= 1 && port <= 65535)) return undefined;
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port };
}

const identifier = z.string().regex(/^[A-Za-z0-9_.:@-]{1,64}$/, 'letters, digits and _ . : @ - (at most 64)');

/**
 * The keys of `method: iot-platform`, all optional here: `sync`'s one strict object takes them beside
 * its NTP keys (so an unknown key still gets its "did you mean"), and iotPlatformSyncArgs checks them.
 */
export const iotPlatformFields = {
  broker: z.string().refine((text) => parseBroker(text) !== undefined, 'expected host[:port] or mqtt://host:port').optional(),
  'product-key': identifier.optional(),
  'device-name': identifier.optional(),
  // Usually `${env.NAME}`, or `secret-env: NAME` (read when the step runs): never recorded in result.json.
  secret: z.string().min(1).optional(),
  'secret-env': z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional(),
  'sign-method': z.enum(SIGN_METHODS).optional(),
  'timestamp-type': z.enum(['long', 'string']).optional(),
  keepalive: durationMs.refine((ms) => ms >= 30_000 && ms <= 1_200_000, 'the platform takes 30s to 1200s').optional(),
  'answer-timeout': positiveDurationMs.optional(),
  'max-round-trip': positiveDurationMs.optional(),
  'platform-tolerance': positiveDurationMs.optional(),
};
export const IOT_PLATFORM_KEYS = Object.keys(iotPlatformFields);

type PlatformFieldsIn = { [K in keyof typeof iotPlatformFields]?: z.output<(typeof iotPlatformFields)[K]> };

export interface IotPlatformSyncArgs {
  method: 'iot-platform';
  via: 'repl';
  broker: string;
  'product-key': string;
  'device-name': string;
  secret?: string;
  'secret-env'?: string;
  'sign-method': (typeof SIGN_METHODS)[number];
  'timestamp-type': 'long' | 'string';
  timezone: number;
  keepalive: number;
  'answer-timeout': number;
  'max-round-trip': number;
  'platform-tolerance': number;
  timeoutMs?: number;
  retries: number;
}

/** `method: iot-platform`'s arguments with their defaults, or the issues that keep them from being whole. */
export function iotPlatformSyncArgs(
  input: PlatformFieldsIn & { via: string; timezone: number; timeoutMs?: number; retries: number },
  issue: (path: string, message: string) => void,
): IotPlatformSyncArgs | undefined {
  if (input.via !== 'repl') issue('via', 'method iot-platform runs over the REPL (umqtt): via: repl');
  for (const key of ['broker', 'product-key', 'device-name'] as const) if (input[key] === undefined) issue(key, `method iot-platform needs ${key}`);
  if ((input.secret === undefined) === (input['secret-env'] === undefined)) issue('secret', 'method iot-platform needs the device secret: secret: "${env.NAME}" or secret-env: NAME (one of them)');
  if (input.via !== 'repl' || input.broker === undefined || input['product-key'] === undefined || input['device-name'] === undefined) return undefined;
  return {
    method: 'iot-platform',
    via: 'repl',
    broker: input.broker,
    'product-key': input['product-key'],
    'device-name': input['device-name'],
    secret: input.secret,
    'secret-env': input['secret-env'],
    'sign-method': input['sign-method'] ?? 'hmacsha256',
    'timestamp-type': input['timestamp-type'] ?? 'long',
    timezone: input.timezone,
    keepalive: input.keepalive ?? 60_000,
    'answer-timeout': input['answer-timeout'] ?? 5_000,
    'max-round-trip': input['max-round-trip'] ?? 2_000,
    'platform-tolerance': input['platform-tolerance'] ?? 1_000,
    timeoutMs: input.timeoutMs,
    retries: input.retries,
  };
}

/** The device secret: given, or read from the environment variable `secret-env` names. */
export function deviceSecretOf(args: IotPlatformSyncArgs, env: Record<string, string | undefined> = process.env): string | undefined {
  return args.secret ?? (args['secret-env'] === undefined ? undefined : env[args['secret-env']] || undefined);
}

export function describeIotPlatformSync(args: IotPlatformSyncArgs): string {
  return `sync via repl with the IoT platform's NTP at ${args.broker} as ${args['device-name']}&${args['product-key']}`;
}

export async function runIotPlatformSync(context: StepContext, args: IotPlatformSyncArgs): Promise<StepReport> {
  const broker = parseBroker(args.broker) ?? { host: args.broker, port: 1883 };
  const deviceSecret = deviceSecretOf(args);
  if (deviceSecret === undefined) throw new InputError(`sync: the device secret's environment variable ${args['secret-env'] ?? ''} is not set`);
  const device = { productKey: args['product-key'], deviceName: args['device-name'], deviceSecret };
  const signIn = deviceSignIn(device, { id: `qhil-${args['device-name']}`, method: args['sign-method'], timestampMs: Date.now() });
  // The reference first: the host's offset to UTC is what the platform's clock is judged against.
  const reference = await context.queryReference();
  let verdict: StepReport | undefined;
  const result = await syncOverPlatform(context.board.replChannel(), {
    ...broker,
    productKey: device.productKey,
    deviceName: device.deviceName,
    ...signIn,
    keepaliveS: Math.round(args.keepalive / 1000),
    timestampType: args['timestamp-type'],
    timezoneHours: args.timezone,
    answerTimeoutMs: args['answer-timeout'],
    timeoutMs: context.timeLeftMs(),
    signal: context.signal,
    // Judged before the RTC is set: a wrong platform or a useless round trip leaves the board's clock alone.
    approve: (exchange) => {
      verdict = judgeExchange(exchange, args, reference.offsetMs, reference.uncertaintyMs);
      return verdict.outcome !== 'ERROR';
    },
  });
  const where = `the IoT platform at ${broker.host}:${broker.port}`;
  if (!result.ok) {
    switch (result.stage) {
      case 'refused':
        throw new BoardEnvironmentError(
          `${where} refused the board's sign-in as ${device.deviceName}&${device.productKey}: CONNACK ${result.connack} (${connackMeaning(result.connack)}); check product-key, device-name and the device secret`,
        );
      case 'network':
        throw new BoardEnvironmentError(`the board could not reach ${where}: ${quoteBoardText(result.detail)}`);
      case 'no-answer':
        throw new BoardEnvironmentError(`${where} did not answer the board's NTP request within ${formatDurationMs(result.waitedMs)} (a silent platform)`);
      case 'invalid':
        throw new BoardEnvironmentError(`${where} gave an unusable NTP answer: ${result.detail}: ${quoteBoardText(result.payload)}`);
    }
  }
  if (verdict?.outcome === 'ERROR') return { ...verdict, message: `${verdict.message ?? ''}; the board's clock was left as it was` };
  return judgeExchange(result, args, reference.offsetMs, reference.uncertaintyMs);
}

export function judgeExchange(result: PlatformExchangeResult, args: IotPlatformSyncArgs, referenceOffsetMs: number, referenceUncertaintyMs: number): StepReport {
  const { deviceSendTime, serverRecvTime, serverSendTime, deviceRecvTime } = result;
  const { thetaMs, delayMs } = platformOffsetMs(result);
  // The platform's clock on the reference's scale: both its stamps were taken inside the host's bracket.
  const versusHostLowMs = Math.max(serverRecvTime, serverSendTime) - result.hostReceiveMs;
  const versusHostHighMs = Math.min(serverRecvTime, serverSendTime) - result.hostSendMs;
  const lowMs = versusHostLowMs - referenceOffsetMs - referenceUncertaintyMs;
  const highMs = versusHostHighMs - referenceOffsetMs + referenceUncertaintyMs;
  const tolerance = args['platform-tolerance'];
  const platformClock = {
    offsetMs: (lowMs + highMs) / 2,
    uncertaintyMs: (highMs - lowMs) / 2,
    lowMs,
    highMs,
    toleranceMs: tolerance,
    explanation: 'platform clock minus UTC: its serverRecvTime and serverSendTime against the host send/receive times of the exchange, and the reference',
  };
  const data = {
    method: 'iot-platform',
    broker: args.broker,
    productKey: args['product-key'],
    deviceName: args['device-name'],
    signMethod: args['sign-method'],
    timestampType: args['timestamp-type'],
    answeredType: result.answeredType,
    deviceSendTime,
    serverRecvTime,
    serverSendTime,
    deviceRecvTime,
    /** θ: the platform's clock minus the board's before the sync. */
    platformOffsetMs: thetaMs,
    roundTripMs: delayMs,
    computedMs: result.computedMs,
    platformClock,
    rtcSet: result.rtcSet,
    rtcSetTo: result.rtcSetTo,
    rtcAfter: result.rtcAfter,
    extraAnswers: result.extraAnswers,
    hostSendMs: result.hostSendMs,
    hostReceiveMs: result.hostReceiveMs,
  };
  const expected = platformDeviceTimeMs({
    deviceSendTime: BigInt(deviceSendTime),
    serverRecvTime: BigInt(serverRecvTime),
    serverSendTime: BigInt(serverSendTime),
    deviceRecvTime: BigInt(deviceRecvTime),
  });
  if (BigInt(result.computedMs) !== expected) {
    throw new BoardError(`the board computed ${result.computedMs} ms from the platform's answer; (serverRecvTime + serverSendTime + deviceRecvTime - deviceSendTime) / 2 is ${expected}`);
  }
  if (lowMs > tolerance || highMs < -tolerance) {
    return {
      outcome: 'ERROR',
      message:
        `the IoT platform's clock is wrong: ${signed(platformClock.offsetMs)} ±${Math.round(platformClock.uncertaintyMs)} ms from the reference ` +
        `(limit ±${formatDurationMs(tolerance)}); a board synced to it would be as wrong: no verdict on the board`,
      data,
    };
  }
  if (delayMs > args['max-round-trip']) {
    return {
      outcome: 'ERROR',
      message: `the platform's round trip took ${Math.round(delayMs)} ms (limit ${formatDurationMs(args['max-round-trip'])}): a sync over it is uncertain by ±${Math.round(delayMs / 2)} ms; no verdict on the board`,
      data,
    };
  }
  if (result.rtcSet && !rtcMatches(result.rtcSetTo, result.rtcAfter)) {
    throw new BoardError(`the board set its RTC to ${result.rtcSetTo.join(',')} but then read ${result.rtcAfter.join(',')}`);
  }
  return {
    message:
      `synced with the IoT platform: board was ${signed(-thetaMs)} ms off it, round trip ${Math.round(delayMs)} ms; ` +
      `platform clock ${signed(platformClock.offsetMs)} ±${Math.round(platformClock.uncertaintyMs)} ms from the reference` +
      (result.extraAnswers > 0 ? `; the platform answered ${result.extraAnswers + 1} times (the first was used)` : ''),
    data,
  };
}

/** The RTC read back within a second of what was set (the reading may have ticked once). */
function rtcMatches(set: number[], after: number[]): boolean {
  if (set.length < 6 || after.length < 6) return false;
  const ms = (f: number[]) => Date.UTC(f[0] ?? 0, (f[1] ?? 1) - 1, f[2], f[3], f[4], f[5]);
  const difference = ms(after) - ms(set);
  return difference >= 0 && difference <= 1000;
}

function signed(ms: number): string {
  return `${ms >= 0 ? '+' : ''}${Math.round(ms)}`;
}
