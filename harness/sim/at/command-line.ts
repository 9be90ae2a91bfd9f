/**
 * The text side of the simulated AT port: a command line split into commands (V.250), arguments
 * split and unquoted, the answer of one command, and time as Quectel prints it.
 */

/** One command's information lines and its final result code (`OK`, `ERROR`, `+CME ERROR: 10`). */
export type Answer = { lines: string[]; final: string };

/** One command of a command line: `+CMEE=1` is name `+CMEE`, form `=`, argument text `1`. */
export interface AtCommand {
  /** Upper case: `+CMEE`, `E0`, `I`; '' for a bare `AT`. */
  name: string;
  form: '' | '?' | '=?' | '=';
  /** What follows `=` up to the next unquoted `;` (only for the `=` form). */
  argText: string;
}

export function ok(lines: string[] = []): Answer {
  return { lines, final: 'OK' };
}

export function error(): Answer {
  return { lines: [], final: 'ERROR' };
}

/**
 * Splits a command line (`AT` included) into its commands, V.250 style, or undefined when the line
 * is malformed. Extended commands (`+CMEE`, `$X`, `^X`) end at `;` or the end of the line, so text
 * after a query (`?`), test (`=?`) or no-argument form is an error, and a set form (`=`) runs to the
 * next `;` outside quotes. Basic commands (`E0`, `I`, `&F`) may follow each other directly (`ATE0V1`)
 * or be separated by `;`; a trailing `;` is allowed. A bare `AT` is one command with an empty name.
 */
export function parseCommandLine(line: string): AtCommand[] | undefined {
  const body = line.slice(2);
  if (body === '') return [{ name: '', form: '', argText: '' }];
  const commands: AtCommand[] = [];
  let at = 0;
  while (at < body.length) {
    const rest = body.slice(at);
    const extended = /^[+$^][A-Za-z0-9]+/.exec(rest);
    const head = extended ?? /^&?[A-Za-z]\d*/.exec(rest);
    if (!head) return undefined;
    at += head[0].length;
    let form: AtCommand['form'] = '';
    let argText = '';
    if (body.startsWith('=?', at)) {
      form = '=?';
      at += 2;
    } else if (body.startsWith('?', at)) {
      form = '?';
      at += 1;
    } else if (body.startsWith('=', at)) {
      form = '=';
      at += 1;
      const end = unquotedSemicolon(body, at);
      if (end < 0) return undefined; // an unterminated string
      argText = body.slice(at, end);
      at = end;
    }
    commands.push({ name: head[0].toUpperCase(), form, argText });
    if (at >= body.length) break;
    if (body[at] === ';') at += 1;
    else if (extended || form === '=') return undefined; // trailing text after the command
  }
  return commands;
}

/** Index of the first `;` outside quotes from `from` (the text's length when none), -1 for an open quote. */
function unquotedSemicolon(text: string, from: number): number {
  let quoted = false;
  for (let index = from; index < text.length; index += 1) {
    const char = text[index];
    if (char === '"') quoted = !quoted;
    else if (char === ';' && !quoted) return index;
  }
  return quoted ? -1 : text.length;
}

export function cidOf(text: string | undefined): number | undefined {
  const cid = Number(text);
  return Number.isInteger(cid) && cid >= 1 && cid <= 16 ? cid : undefined;
}

/** Splits `1,1,"CMNET","",""` into values, unquoting strings (commas inside quotes kept). */
export function splitArgs(text: string): string[] {
  if (text.trim() === '') return [];
  const args: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (char === ',' && !quoted) {
      args.push(current.trim());
      current = '';
    } else current += char;
  }
  args.push(current.trim());
  return args;
}

/** A wall-clock reading as Quectel prints it: `yy/MM/dd,hh:mm:ss±zz` (or a 4-digit year). */
export function formatBoardTime(readingMs: number, zoneQuarterHours: number, yearDigits: 2 | 4): string {
  const date = new Date(Math.floor(readingMs / 1000) * 1000);
  const two = (value: number): string => String(value).padStart(2, '0');
  const year = yearDigits === 2 ? two(date.getUTCFullYear() % 100) : String(date.getUTCFullYear());
  const sign = zoneQuarterHours < 0 ? '-' : '+';
  return (
    `${year}/${two(date.getUTCMonth() + 1)}/${two(date.getUTCDate())},` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}${sign}${two(Math.abs(zoneQuarterHours))}`
  );
}
