/**
 * Turns a printed Python value (what `print(repr(x))` or the REPL shows) into a JS value:
 * tuples and lists → arrays, str → string, bytes → Uint8Array, int → number (bigint beyond 2^53),
 * float → number, None → null, True/False → booleans, dicts → Map. Anything else (`<object at ...>`,
 * expressions, trailing text) is rejected with an error saying what and where.
 */

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | Map<PyKey, PyValue>;
export type PyKey = string | number | bigint | boolean | null;

export class PyLiteralError extends Error {
  constructor(
    readonly text: string,
    readonly position: number,
    problem: string,
  ) {
    const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
    super(`cannot parse Python value at character ${position + 1}: ${problem} in ${JSON.stringify(shown)}`);
    this.name = 'PyLiteralError';
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n',
  r: '\r',
  t: '\t',
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
  '\n': '',
};

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseAll(): PyValue {
    const value = this.value();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected ${JSON.stringify(this.text[this.pos])} after the value`);
    return value;
  }

  private fail(problem: string): never {
    throw new PyLiteralError(this.text, this.pos, problem);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] ?? '')) this.pos++;
  }

  private value(): PyValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) this.fail('the text ended where a value was expected');
    if (c === '(') return this.sequence(')', true);
    if (c === '[') return this.sequence(']', false);
    if (c === '{') return this.dict();
    if (c === "'" || c === '"') return this.string();
    if ((c === 'b' || c === 'B') && (this.text[this.pos + 1] === "'" || this.text[this.pos + 1] === '"')) {
      this.pos++;
      const raw = this.string(true);
      return Uint8Array.from(raw, (ch) => ch.charCodeAt(0));
    }
    if (/[-+0-9.]/.test(c)) return this.number();
    const word = /^[A-Za-z_]+/.exec(this.text.slice(this.pos))?.[0];
    if (word === 'None') return this.advance(4, null);
    if (word === 'True') return this.advance(4, true);
    if (word === 'False') return this.advance(5, false);
    if (word === 'inf') return this.advance(3, Infinity);
    if (word === 'nan') return this.advance(3, Number.NaN);
    this.fail(`${JSON.stringify(word ?? c)} is not a Python literal`);
  }

  private advance<T>(count: number, value: T): T {
    this.pos += count;
    return value;
  }

  private sequence(close: string, isTuple: boolean): PyValue[] {
    this.pos++; // the opening bracket
    const items: PyValue[] = [];
    let commaAfterLast = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        // repr never prints a 1-tuple without its comma; `(x)` would be an expression.
        if (isTuple && items.length === 1 && !commaAfterLast) this.fail('a parenthesised value is not a tuple');
        return items;
      }
      if (items.length > 0) {
        if (this.text[this.pos] !== ',') this.fail(`expected "," or "${close}"`);
        this.pos++;
        commaAfterLast = true;
        this.skipSpace();
        if (this.text[this.pos] === close) continue;
      }
      items.push(this.value());
      commaAfterLast = false;
    }
  }

  private dict(): Map<PyKey, PyValue> {
    this.pos++;
    const map = new Map<PyKey, PyValue>();
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return map;
      }
      if (map.size > 0) {
        if (this.text[this.pos] !== ',') this.fail('expected "," or "}"');
        this.pos++;
        this.skipSpace();
        if (this.text[this.pos] === '}') continue;
      }
      const keyAt = this.pos;
      const key = this.value();
      if (key !== null && typeof key === 'object') {
        this.pos = keyAt;
        this.fail('a dict key must be a str, int, bool or None');
      }
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail('expected ":" after a dict key');
      this.pos++;
      map.set(key, this.value());
    }
  }

  private string(isBytes = false): string {
    const quote = this.text[this.pos];
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated string');
      if (c === quote) {
        this.pos++;
        break;
      }
      if (c === '\n') this.fail('newline inside a string');
      if (c !== '\\') {
        out += c;
        this.pos++;
        continue;
      }
      const e = this.text[this.pos + 1];
      if (e === undefined) this.fail('unterminated escape');
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
        this.pos += 2;
        continue;
      }
      const hexLength = e === 'x' ? 2 : e === 'u' && !isBytes ? 4 : e === 'U' && !isBytes ? 8 : 0;
      if (hexLength > 0) {
        const hex = this.text.slice(this.pos + 2, this.pos + 2 + hexLength);
        if (!new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(hex)) this.fail(`bad \\${e} escape`);
        out += String.fromCodePoint(parseInt(hex, 16));
        this.pos += 2 + hexLength;
        continue;
      }
      if (/[0-7]/.test(e)) {
        const octal = /^[0-7]{1,3}/.exec(this.text.slice(this.pos + 1))?.[0] ?? e;
        out += String.fromCharCode(parseInt(octal, 8));
        this.pos += 1 + octal.length;
        continue;
      }
      // Python keeps unknown escapes as they are.
      out += `\\${e}`;
      this.pos += 2;
    }
    if (isBytes && /[^\x00-\xff]/.test(out)) this.fail('non-byte character in bytes');
    return out;
  }

  private number(): number | bigint {
    const rest = this.text.slice(this.pos);
    const special = /^([-+]?)(inf|nan)\b/.exec(rest);
    if (special) {
      this.pos += special[0].length;
      if (special[2] === 'nan') return Number.NaN;
      return special[1] === '-' ? -Infinity : Infinity;
    }
    const hex = /^[-+]?0[xX][0-9a-fA-F]+/.exec(rest);
    if (hex) {
      this.pos += hex[0].length;
      return toNumber(BigInt(hex[0].replace('+', '')));
    }
    const match = /^[-+]?(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)/.exec(rest);
    if (!match) this.fail('expected a number');
    this.pos += match[0].length;
    const literal = match[0];
    if (/[.eE]/.test(literal)) return Number(literal);
    return toNumber(BigInt(literal.replace('+', '')));
  }
}

function toNumber(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
}

export function parsePyLiteral(text: string): PyValue {
  return new Parser(text.trim()).parseAll();
}
