/**
 * Board text. Channels frame what a board sends byte by byte (raw-REPL `\x04`, AT line ends, the
 * raw-paste window size are bytes, not text), so a receive buffer holds one JS char per byte (a
 * "byte string", latin1). Text is made from those bytes only once a frame is whole, so a multi-byte
 * character split across reads decodes correctly.
 *
 * Decoding is UTF-8 (QuecPython and Quectel firmware print UTF-8: Chinese operator names, NTP
 * server names). A byte that is not part of a valid UTF-8 sequence is shown as `\xNN`, as Python's
 * `errors='backslashreplace'` shows it: the byte's value stays visible, nothing is dropped or
 * guessed. (A board that prints the four characters `\xff` reads the same; the transcript, which
 * keeps raw bytes, tells them apart.)
 */

/** Bytes to a byte string (one char per byte), the form receive buffers and matchers use. */
export function byteString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** UTF-8 text as the byte string of its encoding, so it can be searched for in a receive buffer. */
export function byteStringOfText(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** A byte string (see above) decoded as UTF-8, each invalid byte shown as `\xNN`. */
export function boardText(bytes: string): string {
  return decodeUtf8Shown(Buffer.from(bytes, 'latin1'));
}

/** UTF-8 bytes to text, each byte that is not part of a valid sequence shown as `\xNN`. */
export function decodeUtf8Shown(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  let runStart = 0;
  let i = 0;
  while (i < buffer.length) {
    const length = validSequenceLength(buffer, i);
    if (length > 0) {
      i += length;
      continue;
    }
    out += buffer.toString('utf8', runStart, i) + hexEscape(buffer[i] ?? 0);
    i += 1;
    runStart = i;
  }
  return out + buffer.toString('utf8', runStart, i);
}

/** Text quoted for an error message: escaped (no raw control bytes reach a terminal) and capped. */
export function quoteBoardText(text: string, maxChars = 200): string {
  const chars = Array.from(text);
  const cut = chars.length > maxChars;
  // JSON escapes C0 controls and quotes; DEL, C1 (a lone 0x9b is a terminal CSI) and line separators too.
  const quoted = JSON.stringify(cut ? chars.slice(0, maxChars).join('') : text).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
  return cut ? `${quoted} (and ${chars.length - maxChars} more characters)` : quoted;
}

function hexEscape(byte: number): string {
  return `\\x${byte.toString(16).padStart(2, '0')}`;
}

/** Length of the valid UTF-8 sequence starting at `i` (RFC 3629: no overlongs, surrogates or > U+10FFFF), 0 if none. */
function validSequenceLength(bytes: Buffer, i: number): number {
  const lead = bytes[i] ?? 0;
  if (lead < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (i + length > bytes.length) return 0;
  const second = bytes[i + 1] ?? 0;
  if (second < low || second > high) return 0;
  for (let k = 2; k < length; k++) {
    const next = bytes[i + k] ?? 0;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}
