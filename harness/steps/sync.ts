import { z } from 'zod';
import { BoardEnvironmentError } from '../core/errors.js';
import { commonStepOptions, via } from '../core/schema.js';
import type { StepDefinition } from './step.js';

const schema = z
  .object({
    via: via.default('repl'),
    server: z.string().min(1).optional(),
    timezone: z.number().int().min(-12).max(12).default(0),
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout }));

/**
 * `sync`: the board synchronises its clock over NTP (ntptime.settime, or AT+QNTP with autosettime).
 * The server the board really used is recorded: QuecPython silently falls back to other servers.
 */
export const syncStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'sync',
  summary: "synchronise the board's clock over NTP",
  schema,
  // Firmware tries up to five servers with 10 s each before it gives up.
  defaultTimeoutMs: 90_000,
  describe: (args) => `sync via ${args.via} with ${args.server ?? "the board's default server"}`,
  ntpHosts: (args) => (args.server === undefined ? [] : [args.server]),
  async run(context, args) {
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
