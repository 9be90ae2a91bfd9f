/**
 * HTML escaping, by construction: every piece of text that goes into report.html or history.html
 * goes through `esc` (element text and quoted attribute values alike), data for scripts goes through
 * `jsonForScript`, and links through `safeHref`. Board text is untrusted (markup, `</script>`, ANSI
 * escapes, bidi overrides): it is first made visible (core/text.ts turns control characters into
 * `\x1b`-style escapes) and then escaped, so it can neither run nor change the page.
 */
import { safeText } from '../../core/text.js';

const HTML_SPECIAL = /[&<>"']/g;
const HTML_ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text for an element body or a double-quoted attribute value: control characters shown as escapes
 * (`\x1b`), `& < > " '` as entities. The one escaping function of the HTML reports.
 */
export function esc(text: string | number | undefined, maxChars?: number): string {
  if (text === undefined) return '';
  const visible = safeText(String(text), { multiline: true, maxChars });
  return visible.replace(HTML_SPECIAL, (char) => HTML_ENTITY[char] ?? char);
}

/**
 * JSON to embed in `<script type="application/json">`: `<`, `>` and `&` as \u escapes, so no
 * `</script>` or `<!--` can end or change the element, and U+2028/U+2029 escaped for old parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A link into the run folder (a transcript): relative paths only, so neither `javascript:` nor any
 * other scheme, nor a protocol-relative `//host`, can reach an href; each path segment percent-encoded.
 * Undefined when the path is not a plain relative path.
 */
export function safeHref(path: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('/') || path.startsWith('\\') || /[\x00-\x1f\x7f]/.test(path)) return undefined;
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

