/**
 * Text that came from a board (identity, answers, tracebacks, transcript tails) is untrusted: a
 * board, a cable with noise or a hostile device can send ESC sequences that clear the screen, set the
 * window title or write the clipboard (OSC 52), bidi overrides that make a line read backwards, and
 * bytes no report format can carry. These helpers make such text safe to show anywhere, by turning
 * every dangerous character into a visible escape (`\x1b`, `\u202e`): nothing is dropped silently, so
 * a person still sees what the board sent.
 *
 * A backslash is left as it is: the escapes are for reading, not for decoding back.
 */

export interface SafeTextOptions {
  /** Keep `\n`, `\t` and `\r\n` as they are (a traceback, a transcript tail); default true. */
  multiline?: boolean;
  /** At most this many characters of the input are shown, then what was cut is said; default no limit. */
  maxChars?: number;
}

/**
 * Characters that are never shown as themselves: C0 controls (ESC, NUL, BEL, BS, CR ...), DEL, C1
 * controls (U+0080–U+009F; U+009B is a one-byte CSI in some terminals), bidi embeddings, overrides and
 * isolates and the Arabic letter mark, line and paragraph separators, lone surrogates and the
 * non-characters U+FFFE/U+FFFF (neither valid XML nor meaningful text).
 */
const UNSAFE_MULTILINE =
  /\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const UNSAFE_SINGLE_LINE =
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `\x1b` for a character below U+0100, `\u202e` above: the form a developer types into a test. */
export function visibleEscape(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

/** The part of `text` that fits in `maxChars`, never ending inside a surrogate pair, and how much was left out. */
function cut(text: string, maxChars: number | undefined): { shown: string; cutChars: number } {
  if (maxChars === undefined || text.length <= maxChars) return { shown: text, cutChars: 0 };
  let end = Math.max(0, Math.floor(maxChars));
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end -= 1;
  return { shown: text.slice(0, end), cutChars: text.length - end };
}

function cutNote(cutChars: number): string {
  return cutChars > 0 ? `… (${cutChars} more ${cutChars === 1 ? 'character' : 'characters'} not shown)` : '';
}

/**
 * `text` made safe for a terminal, a log file or any report: every control character except (when
 * `multiline`) `\n`, `\t` and `\r\n` becomes a visible escape; with `maxChars`, longer text is cut and
 * ends by saying how many characters were left out.
 */
export function safeText(text: string, options: SafeTextOptions = {}): string {
  const { shown, cutChars } = cut(text, options.maxChars);
  const pattern = options.multiline === false ? UNSAFE_SINGLE_LINE : UNSAFE_MULTILINE;
  return shown.replace(pattern, visibleEscape) + cutNote(cutChars);
}

/**
 * One field on one line (a board's firmware name, a table cell, a terminal column): newlines and tabs
 * are escaped too, so a field can neither break its line nor pretend to be the next one.
 */
export function safeField(text: string, maxChars = 300): string {
  return safeText(text, { multiline: false, maxChars });
}
