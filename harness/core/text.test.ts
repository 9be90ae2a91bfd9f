import { describe, expect, it } from 'vitest';
import { safeField, safeText, visibleEscape } from './text.js';

/** Anything a terminal would act on rather than print. */
const TERMINAL_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const HOSTILE = [
  '\x1b]52;c;SGVsbG8=\x07', // OSC 52: write "Hello" to the clipboard
  '\x1b]0;pwned\x07', // set the window title
  '\x1b[2J', // clear the screen
  '\x9b2J', // the same as a one-byte C1 CSI
  'NUL\x00byte',
  'over\rwrite', // a lone CR rewrites the line
  'back\bspace\x7f',
  'txt.exe\u202egnp', // right-to-left override: reads "txt.exepng"
  '\u2066isolate\u2069',
];

describe('safeText', () => {
  it('shows every terminal control as a visible escape and keeps the rest', () => {
    expect(safeText('\x1b]52;c;SGVsbG8=\x07')).toBe('\\x1b]52;c;SGVsbG8=\\x07');
    expect(safeText('\x1b]0;pwned\x07')).toBe('\\x1b]0;pwned\\x07');
    expect(safeText('\x1b[2J')).toBe('\\x1b[2J');
    expect(safeText('a\x00b')).toBe('a\\x00b');
    expect(safeText('\x9b2J\x85')).toBe('\\x9b2J\\x85');
    expect(safeText('file\u202egnp.exe')).toBe('file\\u202egnp.exe');
    expect(safeText('x\ud800y')).toBe('x\\ud800y');
    expect(safeText('\ufffe')).toBe('\\ufffe');
    for (const hostile of HOSTILE) expect(safeText(hostile)).not.toMatch(TERMINAL_CONTROL);
  });

  it('keeps what people read: newlines, tabs, CRLF, accents, Chinese and emoji', () => {
    expect(safeText('Traceback:\r\n\tFile "<stdin>"\nOSError: é€中 😀')).toBe('Traceback:\r\n\tFile "<stdin>"\nOSError: é€中 😀');
  });

  it('on one line, escapes newlines and tabs too', () => {
    expect(safeText('a\nb\tc\r\n', { multiline: false })).toBe('a\\x0ab\\x09c\\x0d\\x0a');
    expect(safeField('EC200U\n[board-2] ready: fake')).toBe('EC200U\\x0a[board-2] ready: fake');
  });

  it('cuts long text and says how much was cut, never splitting a surrogate pair', () => {
    expect(safeText('x'.repeat(10), { maxChars: 4 })).toBe('xxxx… (6 more characters not shown)');
    expect(safeText('ab😀', { maxChars: 3 })).toBe('ab… (2 more characters not shown)');
    expect(safeField('abc', 3)).toBe('abc');
    // A megabyte flood comes back bounded.
    expect(safeField('\x1b'.repeat(1_000_000)).length).toBeLessThan(2000);
  });

  it('escapes as a developer writes it', () => {
    expect(visibleEscape('\x1b')).toBe('\\x1b');
    expect(visibleEscape('\u202e')).toBe('\\u202e');
    expect(visibleEscape('\u{1f600}')).toBe('\\u{1f600}');
  });
});
