import { describe, expect, it } from 'vitest';
import { parsePyLiteral, PyLiteralError } from './pyliteral.js';

describe('parsePyLiteral', () => {
  it('parses a utime.localtime() tuple', () => {
    expect(parsePyLiteral('(2020, 10, 28, 3, 15, 11, 2, 302)')).toEqual([2020, 10, 28, 3, 15, 11, 2, 302]);
  });

  it('parses dataCall.getInfo output with nested lists and strings', () => {
    expect(parsePyLiteral("(1, 0, [1, 0, '10.91.44.177', '58.242.2.2', '218.104.78.2'])")).toEqual([
      1,
      0,
      [1, 0, '10.91.44.177', '58.242.2.2', '218.104.78.2'],
    ]);
  });

  it('handles one-tuples, empty tuples and trailing commas', () => {
    expect(parsePyLiteral('(5,)')).toEqual([5]);
    expect(parsePyLiteral('()')).toEqual([]);
    expect(parsePyLiteral('[1, 2,]')).toEqual([1, 2]);
  });

  it('decodes string escapes in both quote styles', () => {
    expect(parsePyLiteral(String.raw`'it\'s\n\t\x41\u00e9\\'`)).toBe("it's\n\tAé\\");
    expect(parsePyLiteral(`"say 'hi'"`)).toBe("say 'hi'");
  });

  it('parses bytes into Uint8Array', () => {
    expect(parsePyLiteral(String.raw`b'\x00\x1bA'`)).toEqual(Uint8Array.from([0, 0x1b, 0x41]));
  });

  it('parses numbers: negative, float, exponent, big ints as bigint', () => {
    expect(parsePyLiteral('-12')).toBe(-12);
    expect(parsePyLiteral('1.5e-3')).toBe(0.0015);
    expect(parsePyLiteral('-inf')).toBe(-Infinity);
    expect(parsePyLiteral('123456789012345678901234567890')).toBe(123456789012345678901234567890n);
  });

  it('parses None, True, False and dicts', () => {
    expect(parsePyLiteral('[None, True, False]')).toEqual([null, true, false]);
    expect(parsePyLiteral("{'a': 1, 2: [3]}")).toEqual(
      new Map<string | number, unknown>([
        ['a', 1],
        [2, [3]],
      ]),
    );
  });

  it.each([
    ['<object at 0x3ffe>', /not a Python literal/],
    ['(1, 2', /expected "," or "\)"/],
    ["'abc", /unterminated string/],
    ['(1)', /not a tuple/],
    ['1 2', /unexpected "2"/],
    ['', /ended where a value was expected/],
    ['foo()', /"foo" is not a Python literal/],
  ])('rejects %j with a clear error', (text, message) => {
    expect(() => parsePyLiteral(text)).toThrowError(PyLiteralError);
    expect(() => parsePyLiteral(text)).toThrowError(message);
  });

  it('says where the problem is', () => {
    try {
      parsePyLiteral('(1, 2, @)');
      expect.unreachable();
    } catch (error) {
      expect((error as PyLiteralError).position).toBe(7);
      expect((error as Error).message).toContain('character 8');
    }
  });
});
