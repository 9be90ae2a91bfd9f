import { z } from 'zod';
import { BoardError } from '../core/errors.js';
import { UserPattern } from '../core/pattern.js';
import { commonStepOptions, userPattern } from '../core/schema.js';
import type { StepDefinition } from './step.js';

const schema = z
  .object({
    command: z.string().regex(/^AT/i, 'an AT command line, starting with AT'),
    /** A regular expression the response lines (joined with \n) must match. */
    expect: userPattern.optional(),
    as: z.string().regex(/^[A-Za-z_][\w-]*$/, 'a name: letters, digits, _ or -').optional(),
    ...commonStepOptions,
  })
  .strict()
  .transform(({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout }));

/** `at`: send one AT command; ERROR and +CME ERROR fail the step with the code's meaning. */
export const atStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'at',
  summary: 'send one AT command',
  schema,
  defaultTimeoutMs: 30_000,
  describe: (args) => `at: ${args.command}`,
  produces: (args) => (args.as === undefined ? [] : [{ name: args.as, kind: 'text' }]),
  async run(context, args) {
    const result = await context.board.atChannel().send(args.command, { timeoutMs: args.timeoutMs, signal: context.signal });
    const response = result.lines.join('\n');
    if (args.as) context.values.set(args.as, { kind: 'text', text: response });
    // A pattern that is too slow throws PatternError: the scenario's fault, not the board's.
    if (args.expect !== undefined && !UserPattern.compile(args.expect).test(response)) {
      throw new BoardError(`${args.command} answered ${JSON.stringify(response.slice(0, 300))}, which does not match /${args.expect}/`);
    }
    return { message: response ? `answered ${JSON.stringify(response.slice(0, 120))}` : 'OK', data: { lines: result.lines } };
  },
};
