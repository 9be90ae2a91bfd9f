/** Longest user text a message quotes: a megabyte value must not become a megabyte message. */
export const MAX_QUOTED_CHARS = 80;

/**
 * `text` as a JSON string for a message, cut to `maxChars` with how long it really was, so a
 * message never echoes megabytes, control bytes or NULs of a hostile file.
 */
export function quoted(text: string, maxChars = MAX_QUOTED_CHARS): string {
  if (text.length <= maxChars) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, maxChars))}... (${text.length} characters)`;
}

/**
 * `text` as it is when short and printable; otherwise with control characters escaped and cut to
 * `maxChars`. For names inside messages that read better unquoted (keys, `${...}` references).
 */
export function clipped(text: string, maxChars = MAX_QUOTED_CHARS): string {
  if (text.length <= maxChars && !/[\u0000-\u001f\u007f]/.test(text)) return text;
  const escaped = JSON.stringify(text.slice(0, maxChars)).slice(1, -1);
  return text.length > maxChars ? `${escaped}... (${text.length} characters)` : escaped;
}
