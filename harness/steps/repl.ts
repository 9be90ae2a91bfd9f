import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { BoardError } from '../core/errors.js';
import { UserPattern } from '../core/pattern.js';
import { commonStepOptions, userPattern } from '../core/schema.js';
import type { PyValue } from '../channel/repl/pyliteral.js';
import type { StepDefinition } from './step.js';

const schema = z
  .object({
    code: z.string().min(1),
    /** A regular expression the output must match. */
    match: userPattern.optional(),
    /** The value the output must print (parsed as a Python literal), e.g. `[3, 1]` for `(3, 1)`. */
    equals: z.unknown().optional(),
    /** Shorthand: a string is `match`, anything else is `equals`. */
    expect: z.unknown().optional(),
    as: z.string().regex(/^[A-Za-z_][\w-]*$/, 'a name: letters, digits, _ or -').optional(),
    ...commonStepOptions,
  })
  .strict()
  .superRefine((args, ctx) => {
    if (typeof args.expect !== 'string') return;
    const problem = userPattern.safeParse(args.expect);
    if (!problem.success) ctx.addIssue({ code: 'custom', path: ['expect'], message: problem.error.issues[0]?.message ?? 'not a regular expression' });
  })
  .transform(({ timeout, expect, ...rest }) => ({
    ...rest,
    match: rest.match ?? (typeof expect === 'string' ? expect : undefined),
    equals: rest.equals ?? (expect !== undefined && typeof expect !== 'string' ? expect : undefined),
    timeoutMs: timeout,
  }));

/** Python values become JS ones: tuples are arrays, dicts are Maps; the scenario writes them as YAML. */
function toPlain(value: PyValue): unknown {
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toPlain(v)]));
  if (typeof value === 'bigint') return Number(value);
  return value;
}

/** `repl`: run Python on the board; optionally check what it printed. */
export const replStep: StepDefinition<z.output<typeof schema>> = {
  kind: 'repl',
  summary: 'run Python code on the board over the REPL',
  schema,
  defaultTimeoutMs: 30_000,
  describe: (args) => `repl: ${args.code.split('\n')[0]?.slice(0, 50) ?? ''}`,
  produces: (args) => (args.as === undefined ? [] : [{ name: args.as, kind: 'text' }]),
  async run(context, args) {
    const { stdout } = await context.board.replChannel().exec(args.code, { timeoutMs: context.timeLeftMs(), signal: context.signal });
    const output = stdout.trimEnd();
    if (args.as) context.values.set(args.as, { kind: 'text', text: output });
    // A pattern that is too slow throws PatternError: the scenario's fault, not the board's.
    if (args.match !== undefined && !UserPattern.compile(args.match).test(output)) {
      throw new BoardError(`output ${JSON.stringify(output.slice(0, 300))} does not match /${args.match}/`);
    }
    if (args.equals !== undefined) {
      const printed = toPlain(context.board.replChannel().parseAnswer(output, 'the code'));
      if (!isDeepStrictEqual(printed, args.equals)) {
        throw new BoardError(`output ${JSON.stringify(output.slice(0, 300))} is not the expected ${JSON.stringify(args.equals)}`);
      }
    }
    return { message: output ? `printed ${JSON.stringify(output.slice(0, 120))}` : 'ran, printed nothing', data: { stdout } };
  },
};
