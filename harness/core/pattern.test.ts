import { describe, expect, it } from 'vitest';
import { faultOf } from './errors.js';
import { MAX_SUBJECT_CHARS, PatternError, UserPattern } from './pattern.js';

describe('UserPattern', () => {
  it('matches as a RegExp would', () => {
    const pattern = UserPattern.compile('^\\+CCLK: "\\d{2}/');
    expect(pattern.test('+CCLK: "24/05/01,12:00:00+00"')).toBe(true);
    expect(pattern.test('ERROR')).toBe(false);
    expect(UserPattern.compile('café').test('le café est prêt')).toBe(true);
  });

  it('compiles each pattern once', () => {
    expect(UserPattern.compile('OK$')).toBe(UserPattern.compile('OK$'));
  });

  it('refuses a pattern that is not a regular expression, as bad input', () => {
    expect(() => UserPattern.compile('(unclosed')).toThrow(PatternError);
    expect(() => UserPattern.compile('(unclosed')).toThrow(/^not a regular expression: /);
  });

  it('stops catastrophic backtracking instead of hanging, and blames the pattern, not the board', () => {
    const pattern = UserPattern.compile('^(a+)+$');
    const subject = `${'a'.repeat(40)}b`;
    const started = performance.now();
    let caught: unknown;
    try {
      pattern.test(subject);
    } catch (error) {
      caught = error;
    }
    const elapsedMs = performance.now() - started;
    expect(caught).toBeInstanceOf(PatternError);
    expect(faultOf(caught)).toBe('input');
    expect((caught as Error).message).toBe(
      'pattern /^(a+)+$/ took more than 1.00s on 41 characters of output: simplify it (nested repetition such as (a+)+ backtracks without end)',
    );
    // 100 ms, then 1 s to confirm: bounded, where the plain RegExp would run for longer than the universe.
    expect(elapsedMs).toBeLessThan(5_000);
    // The pattern still works afterwards on text it can handle.
    expect(pattern.test('aaaa')).toBe(true);
  });

  it('refuses to match more than MAX_SUBJECT_CHARS of output', () => {
    const pattern = UserPattern.compile('x');
    expect(pattern.test('x'.repeat(MAX_SUBJECT_CHARS))).toBe(true);
    expect(() => pattern.test('x'.repeat(MAX_SUBJECT_CHARS + 1))).toThrow(PatternError);
  });

  it('shows a long pattern cut short in its message', () => {
    const source = `^(a+)+$|${'b'.repeat(500)}`;
    const message = (() => {
      try {
        UserPattern.compile(source).test(`${'a'.repeat(40)}c`);
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/^pattern \/\^\(a\+\)\+\$\|b{72}\.\.\.\/ took more than/);
  });
});
