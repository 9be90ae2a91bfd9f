import { createContext, Script, type Context } from 'node:vm';
import { formatDurationMs } from './duration.js';
import { InputError } from './errors.js';
import { MAX_QUOTED_CHARS } from './quote.js';

/**
 * Regular expressions from scenarios (`repl: { match }`, `at: { expect }`) run on whatever a board
 * printed. A pattern with catastrophic backtracking (`^(a+)+$` on `aaaa...b`) would block the event
 * loop for ever, and with it every deadline and signal handler, so a user pattern is only ever run
 * inside node:vm with a timeout, which interrupts V8's regex engine (about 0.2 ms per match).
 */

/** A first try; a pattern that exceeds it gets CONFIRM_LIMIT_MS once more, so a busy host is not blamed on the pattern. */
export const PATTERN_TIME_LIMIT_MS = 100;
const CONFIRM_LIMIT_MS = 1000;
/** The longest text a pattern is matched against: beyond this even a linear pattern takes too long to run unbounded. */
export const MAX_SUBJECT_CHARS = 1 << 20;

/** A pattern that is invalid, too slow, or given too much text: the scenario's problem (exit 2 at load, ERROR at run time), never the board's. */
export class PatternError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'PatternError';
  }
}

const MATCH = new Script('pattern.test(subject)', { filename: 'user-pattern' });

/** A user pattern, checked and compiled once; `test` cannot run longer than about a second. */
export class UserPattern {
  private static readonly compiled = new Map<string, UserPattern>();

  private constructor(
    readonly source: string,
    private readonly sandbox: Context,
  ) {}

  /** Checks and compiles `source` (cached: the loader checks it, each step reuses it). Throws PatternError. */
  static compile(source: string): UserPattern {
    const known = UserPattern.compiled.get(source);
    if (known) return known;
    try {
      // Compiled here first only for a readable SyntaxError from this realm.
      new RegExp(source);
    } catch (error) {
      throw new PatternError(`not a regular expression: ${(error as Error).message.slice(0, 200)}`);
    }
    const sandbox = createContext({ source, subject: '' });
    new Script('pattern = new RegExp(source)').runInContext(sandbox, { timeout: CONFIRM_LIMIT_MS });
    const pattern = new UserPattern(source, sandbox);
    UserPattern.compiled.set(source, pattern);
    return pattern;
  }

  /** Whether `subject` matches. Throws PatternError when the pattern takes too long or the subject is too long. */
  test(subject: string): boolean {
    if (subject.length > MAX_SUBJECT_CHARS) {
      throw new PatternError(
        `pattern /${this.shown()}/ cannot be matched against ${subject.length} characters of output ` +
          `(at most ${MAX_SUBJECT_CHARS}): print less, or check the output in the code itself`,
      );
    }
    this.sandbox.subject = subject;
    try {
      return this.run(PATTERN_TIME_LIMIT_MS) ?? this.run(CONFIRM_LIMIT_MS) ?? this.tooSlow(subject.length);
    } finally {
      this.sandbox.subject = '';
    }
  }

  /** The pattern for messages, cut short if it is long. */
  shown(): string {
    const cut = this.source.length > MAX_QUOTED_CHARS ? `${this.source.slice(0, MAX_QUOTED_CHARS)}...` : this.source;
    return JSON.stringify(cut).slice(1, -1);
  }

  /** The match, or undefined when the limit passed first. */
  private run(limitMs: number): boolean | undefined {
    try {
      return MATCH.runInContext(this.sandbox, { timeout: limitMs }) === true;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return undefined;
      throw error;
    }
  }

  private tooSlow(subjectChars: number): never {
    throw new PatternError(
      `pattern /${this.shown()}/ took more than ${formatDurationMs(CONFIRM_LIMIT_MS)} on ${subjectChars} characters of output: ` +
        'simplify it (nested repetition such as (a+)+ backtracks without end)',
    );
  }
}
