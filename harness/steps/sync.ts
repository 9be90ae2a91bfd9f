import { z } from 'zod';
import { BoardEnvironmentError } from '../core/errors.js';
import { commonStepOptions, via } from '../core/schema.js';
import type { StepDefinition } from './step.js';
import { describeIotPlatformSync, deviceSecretOf, IOT_PLATFORM_KEYS, iotPlatformFields, iotPlatformSyncArgs, runIotPlatformSync, type IotPlatformSyncArgs } from './sync-iot-platform.js';

/**
 * `method: ntp` (the default: the board's own NTP client) or `method: iot-platform` (NTP over MQTT,
 * sync-iot-platform.ts). One strict object takes both methods' keys, so unknown keys get their "did
 * you mean"; each method then refuses the other's keys.
 */
const schema = z
  .object({
    method: z.enum(['ntp', 'iot-platform']).default('ntp'),
    via: via.default('repl'),
    server: z.string().min(1).optional(),
    timezone: z.number().int().min(-12).max(12).default(0),
    ...iotPlatformFields,
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, ...rest }, ctx) => {
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    if (rest.method === 'ntp') {
      for (const key of IOT_PLATFORM_KEYS) if (key in rest && rest[key as keyof typeof rest] !== undefined) issue(key, `${key} is for method: iot-platform`);
      return { method: 'ntp' as const, via: rest.via, server: rest.server, timezone: rest.timezone, retries: rest.retries, timeoutMs: timeout };
    }
    if (rest.server !== undefined) issue('server', 'method iot-platform talks to a broker: broker, not server');
    return iotPlatformSyncArgs({ ...rest, timeoutMs: timeout }, issue) ?? z.NEVER;
  });
type Args = z.output<typeof schema>;
const isPlatform = (args: Args): args is IotPlatformSyncArgs => args.method === 'iot-platform';

/**
 * `sync`: the board synchronises its clock over NTP (ntptime.settime, or AT+QNTP with autosettime).
 * The server the board really used is recorded: QuecPython silently falls back to other servers.
 */
export const syncStep: StepDefinition<Args> = {
  kind: 'sync',
  summary: "synchronise the board's clock over NTP",
  schema,
  // Firmware tries up to five servers with 10 s each before it gives up.
  defaultTimeoutMs: 90_000,
  describe: (args) => (isPlatform(args) ? describeIotPlatformSync(args) : `sync via ${args.via} with ${args.server ?? "the board's default server"}`),
  ntpHosts: (args) => (isPlatform(args) || args.server === undefined ? [] : [args.server]),
  needsReference: (args) => isPlatform(args),
  iotPlatforms: (args) =>
    isPlatform(args) ? [{ broker: args.broker, productKey: args['product-key'], deviceName: args['device-name'], deviceSecret: deviceSecretOf(args) ?? '' }] : [],
  async run(context, args) {
    if (isPlatform(args)) return runIotPlatformSync(context, args);
    const driver = context.board.driver(args.via);
    const result = await driver.syncClock({
      server: args.server,
      timezoneHours: args.timezone,
      timeoutMs: context.timeLeftMs(),
      signal: context.signal,
    });
    const fellBack = result.usedServer !== undefined && args.server !== undefined && result.usedServer !== args.server;
    if (!result.ok) {
      const asked = args.server ?? result.requestedServer ?? "the board's default server";
      const message =
        `the board could not sync with ${asked}: ${result.reason ?? 'no reason given'}` + (fellBack ? ` (it fell back to ${result.usedServer})` : '');
      // A server the board cannot reach gives no verdict on its firmware: the network's ERROR, retried.
      if (result.unreachable) throw new BoardEnvironmentError(`${message}: the board could not reach the server (network or server, not the firmware)`);
      return { outcome: 'FAIL', message, data: { ...result } };
    }
    return {
      message: fellBack
        ? `synced, but with ${result.usedServer}: the board fell back from ${args.server}`
        : `synced with ${result.usedServer ?? args.server ?? 'its default server'}`,
      data: { ...result, fellBack },
    };
  },
};
