import { describe, expect, it } from 'vitest';
import { boardText, byteString, decodeUtf8Shown, quoteBoardText } from './text.js';

describe('decodeUtf8Shown', () => {
  it('decodes UTF-8 text as the board sent it', () => {
    expect(decodeUtf8Shown(Buffer.from('é€中 😀', 'utf8'))).toBe('é€中 😀');
  });

  it('shows each byte that is not UTF-8 as \\xNN and keeps the text around it', () => {
    expect(decodeUtf8Shown(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\\xffb');
    // A truncated sequence, an overlong encoding, a surrogate, a code point beyond U+10FFFF.
    expect(decodeUtf8Shown(Buffer.from([0xe4, 0xb8, 0x41]))).toBe('\\xe4\\xb8A');
    expect(decodeUtf8Shown(Buffer.from([0xc0, 0xaf]))).toBe('\\xc0\\xaf');
    expect(decodeUtf8Shown(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\\xed\\xa0\\x80');
    expect(decodeUtf8Shown(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe('\\xf4\\x90\\x80\\x80');
    expect(decodeUtf8Shown(Buffer.from([0xe4, 0xb8, 0xad, 0xff]))).toBe('中\\xff');
  });

  it('decodes a 4-byte character whose bytes came in separate reads once they are joined', () => {
    const emoji = Buffer.from('😀', 'utf8');
    const joined = byteString(emoji.subarray(0, 1)) + byteString(emoji.subarray(1, 3)) + byteString(emoji.subarray(3));
    expect(boardText(joined)).toBe('😀');
  });
});

describe('quoteBoardText', () => {
  it('escapes control bytes, C1 controls and quotes, and caps long text saying how much more there was', () => {
    expect(quoteBoardText('\x1b]52;c;AAAA\x07"\u009b2J')).toBe('"\\u001b]52;c;AAAA\\u0007\\"\\u009b2J"');
    expect(quoteBoardText('中'.repeat(300), 10)).toBe(`"${'中'.repeat(10)}" (and 290 more characters)`);
  });
});
