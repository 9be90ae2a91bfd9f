import { z } from 'zod';
import { commonStepOptions, via } from '../core/schema.js';
import type { StepDefinition } from './step.js';

const schema = z
  .object({
    via: via.default('repl'),
    profile: z.number().int().min(1).max(16).default(1),
    apn: z.string().optional(),
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout }));

/** `dial`: make sure the data call is up (QuecPython dataCall, or AT+QICSGP/AT+QIACT). */
export const dialStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'dial',
  summary: 'bring the data call up and record its IP address',
  schema,
  defaultTimeoutMs: 60_000,
  describe: (args) => `dial via ${args.via} on profile ${args.profile}`,
  async run(context, args) {
    const driver = context.board.driver(args.via);
    const apn = args.apn ?? context.board.apn;
    const result = await driver.dial({ profile: args.profile, apn, timeoutMs: context.timeLeftMs(), signal: context.signal });
    return {
      message: result.alreadyUp ? `data call already up: ${result.address}` : `data call up: ${result.address} (APN ${apn ?? 'default'})`,
      data: { ...result, apn },
    };
  },
};
