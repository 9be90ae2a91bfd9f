/**
 * What scenario and rig loading share: YAML parsed with positions kept, `${env.NAME}` substitution,
 * and zod issues turned into `file:line:column: message` lines that point at the offending node.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parse, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode, Scalar } from 'yaml';
import { z } from 'zod';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { errorMessage, formatLocation, InputError, type SourceLocation } from '../core/errors.js';
import { clipped, quoted } from '../core/quote.js';
import { durationMs } from '../core/schema.js';

export interface ValidationIssue {
  location: SourceLocation;
  message: string;
}

/** A file with an error on every line gives this many, then "and N more": enough to fix, not a flood. */
export const MAX_REPORTED_ISSUES = 50;

/** Everything wrong with one file, collected rather than stopping at the first problem. */
export class ValidationError extends InputError {
  /** Every issue, in file order. */
  readonly issues: ValidationIssue[];
  /** The first MAX_REPORTED_ISSUES of them, one per line, then "... and N more": what a person is shown. */
  readonly lines: string[];

  constructor(issues: ValidationIssue[]) {
    const sorted = [...issues].sort(
      (a, b) =>
        (a.location.file < b.location.file ? -1 : a.location.file > b.location.file ? 1 : 0) ||
        a.location.line - b.location.line ||
        a.location.column - b.location.column,
    );
    const lines = sorted.slice(0, MAX_REPORTED_ISSUES).map((issue) => `${formatLocation(issue.location)}: ${issue.message}`);
    if (sorted.length > MAX_REPORTED_ISSUES) lines.push(`... and ${sorted.length - MAX_REPORTED_ISSUES} more`);
    super(lines.join('\n'));
    this.name = 'ValidationError';
    this.issues = sorted;
    this.lines = lines;
  }
}

/**
 * Scenario and rig files are a few kilobytes; a bigger file is a mistake or an attack, refused before
 * it is parsed. 1 MiB, not more: yaml parses a hostile file (an error on every line) at about 1 MiB/s
 * on a loaded 2-core host, and validation should answer in seconds.
 */
export const MAX_SOURCE_BYTES = 1024 * 1024;

/**
 * Reads a scenario or rig file as UTF-8 text, refusing what cannot be one: more than MAX_SOURCE_BYTES,
 * UTF-16 (a byte-order mark, as Windows editors write), or bytes that are not UTF-8, each with where.
 */
export function readSourceFile(file: string, what: 'scenario' | 'rig' | 'sim profile'): string {
  let bytes: Buffer;
  try {
    bytes = readCapped(file, MAX_SOURCE_BYTES);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${file}: cannot read ${what} file: ${errorMessage(error)}`);
  }
  return decodeSource(bytes, file, what);
}

/** At most `maxBytes` of `file`, read from one descriptor so a file growing meanwhile cannot slip past the cap. */
function readCapped(file: string, maxBytes: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > maxBytes) throw tooBig(file, size, maxBytes);
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, size + 1));
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > maxBytes) throw tooBig(file, length, maxBytes);
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

function tooBig(file: string, bytes: number, maxBytes: number): InputError {
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  return new InputError(`${file}:1:1: the file is ${bytes > maxBytes * 2 ? 'over ' : ''}${mib(bytes)}; a scenario or rig file may be at most ${mib(maxBytes)}`);
}

function decodeSource(bytes: Buffer, file: string, what: string): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    const order = bytes[0] === 0xff ? 'FF FE, little-endian' : 'FE FF, big-endian';
    throw new InputError(`${file}:1:1: the ${what} file is UTF-16 (byte-order mark ${order}); save it as UTF-8`);
  }
  // A UTF-8 byte-order mark carries nothing; dropping it keeps columns as an editor counts them.
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const body = bytes.subarray(start);
  const text = body.toString('utf8');
  let from = text.indexOf('\uFFFD');
  while (from !== -1) {
    // U+FFFD is either written in the file (EF BF BD) or stands for bytes that are not UTF-8.
    const byteOffset = Buffer.byteLength(text.slice(0, from));
    if (!(body[byteOffset] === 0xef && body[byteOffset + 1] === 0xbf && body[byteOffset + 2] === 0xbd)) {
      const { line, column } = positionIn(text, from);
      throw new InputError(`${file}:${line}:${column}: byte 0x${(body[byteOffset] ?? 0).toString(16).padStart(2, '0')} is not UTF-8 text; save the ${what} file as UTF-8`);
    }
    from = text.indexOf('\uFFFD', from + 1);
  }
  return text;
}

/** Line and column (from 1) of `index` in `text`, by one scan: for the rare problem found before parsing. */
function positionIn(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < index; at = text.indexOf('\n', at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return { line, column: index - lineStart + 1 };
}

/** The longest text YamlSource.parse takes: the file cap, for text that did not come from a file. */
const MAX_SOURCE_CHARS = MAX_SOURCE_BYTES;
/** Aliases a document may expand (yaml's default): a "billion laughs" file stops here, with its place. */
const MAX_ALIAS_COUNT = 100;

/** Issues at the same place as an earlier one (an unset variable, then the schema's view of it) add nothing. */
export function dropEchoes(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = formatLocation(issue.location);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export type EnvLike = Readonly<Record<string, string | undefined>>;

/** A parsed YAML file that can still say where each of its nodes stands. */
export class YamlSource {
  private constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
  ) {}

  /**
   * Parses `text`; syntax errors come back as issues (at most one per line: the rest are echoes).
   * Text that no editor writes (NULs, more than MAX_SOURCE_CHARS) is refused before parsing.
   */
  static parse(text: string, file: string): { source: YamlSource; issues: ValidationIssue[] } {
    const refused = refuseText(text, file);
    const lineCounter = new LineCounter();
    // yaml makes an Error per problem; their stacks are never shown, and capturing them was most of the
    // time a file with an error on every line took.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let doc: Document.Parsed;
    try {
      doc = parseDocument(refused ? '' : text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    const source = new YamlSource(file, doc, lineCounter);
    if (refused) return { source, issues: [refused] };
    const issues: ValidationIssue[] = [];
    const linesSeen = new Set<number>();
    for (const error of [...doc.errors, ...doc.warnings]) {
      const location = source.locateOffset(error.pos[0]);
      if (linesSeen.has(location.line)) continue;
      linesSeen.add(location.line);
      const lineText = source.lineText(text, location.line);
      // An unquoted ${...} inside `{ ... }` is read as a nested flow mapping; say so, yaml can't.
      const hint = /\$\{/.test(lineText) && /[{[]/.test(lineText) ? ' (inside { } or [ ], quote values that use ${...}: "${env.NAME}")' : '';
      issues.push({ location, message: `YAML syntax error: ${syntaxMessage(error.code, error.message)}${hint}` });
    }
    return { source, issues };
  }

  /** Line `line` (from 1) of `text`, from the line starts the parser indexed once (not a split per error). */
  private lineText(text: string, line: number): string {
    const starts = this.lineCounter.lineStarts;
    const start = starts[line - 1] ?? 0;
    const end = starts[line] ?? text.length;
    return text.slice(start, Math.min(end, start + 1000));
  }

  /**
   * The document as plain values. Throws ValidationError at the first alias when aliases expand past
   * MAX_ALIAS_COUNT (a "billion laughs" file), or where the file starts when it nests too deeply.
   */
  toJS(): unknown {
    try {
      return this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      if (error instanceof ReferenceError && /alias/i.test(error.message)) {
        let firstAlias: YamlNode | undefined;
        visit(this.doc, {
          Alias(_key, node) {
            firstAlias = node;
            return visit.BREAK;
          },
        });
        throw new ValidationError([
          {
            location: this.locate(firstAlias),
            message: `aliases here expand to more than ${MAX_ALIAS_COUNT} nodes (a YAML "billion laughs"?): write the values out, or use fewer aliases`,
          },
        ]);
      }
      if (error instanceof RangeError) {
        throw new ValidationError([{ location: this.locate(undefined), message: 'nested too deeply to read: a scenario or rig needs only a few levels' }]);
      }
      throw error;
    }
  }

  locateOffset(offset: number): SourceLocation {
    const { line, col } = this.lineCounter.linePos(offset);
    return { file: this.file, line, column: col };
  }

  /** Where a node starts; the start of the file for a node the parser synthesised without a range. */
  locate(node: YamlNode | null | undefined): SourceLocation {
    return this.locateOffset(node?.range?.[0] ?? 0);
  }

  /** The document's top node, aliases resolved. */
  get root(): YamlNode | undefined {
    return this.resolve(this.doc.contents);
  }

  resolve(node: unknown): YamlNode | undefined {
    if (isAlias(node)) return this.resolve(node.resolve(this.doc));
    return isMap(node) || isSeq(node) || isScalar(node) ? node : undefined;
  }

  /**
   * Walks `path` (mapping keys, sequence indexes) from `start`. `node` is the node at the end, if it
   * exists; `deepest` is the last node that does exist on the way, i.e. the mapping a missing key belongs in.
   */
  walk(start: YamlNode | undefined, path: readonly PropertyKey[]): { node?: YamlNode; deepest?: YamlNode; keyNode?: YamlNode } {
    let node = start;
    let keyNode: YamlNode | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = findPair(node, String(segment));
        if (!pair) return { deepest: node };
        keyNode = this.resolve(pair.key);
        node = this.resolve(pair.value);
        if (!node) return { deepest: keyNode, keyNode };
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = this.resolve(node.items[segment]);
        if (!item) return { deepest: node };
        keyNode = undefined;
        node = item;
      } else {
        return { deepest: node };
      }
    }
    return { node, deepest: node, keyNode };
  }

  /**
   * Where to point for a node found by `walk`: the node, except `key:` with nothing after it, whose
   * empty value sits at the end of the line; the key is where a reader looks.
   */
  pointAt(walked: { node?: YamlNode; keyNode?: YamlNode }): YamlNode | undefined {
    const { node, keyNode } = walked;
    if (isScalar(node) && node.value === null && node.source === '' && keyNode) return keyNode;
    return node ?? keyNode;
  }

  /** The key node of `key` in `map`, for pointing at an unknown key itself. */
  keyNode(map: YamlNode | undefined, key: string): YamlNode | undefined {
    if (!isMap(map)) return undefined;
    return this.resolve(findPair(map, key)?.key);
  }
}

/** Why `text` is refused before parsing: too long, or NULs (UTF-16 without a byte-order mark, or a binary file). */
function refuseText(text: string, file: string): ValidationIssue | undefined {
  if (text.length > MAX_SOURCE_CHARS) {
    return { location: { file, line: 1, column: 1 }, message: `${text.length} characters; a scenario or rig file may be at most ${MAX_SOURCE_CHARS}` };
  }
  const nul = text.indexOf('\0');
  if (nul === -1) return undefined;
  const utf16 = text.length > 1 && (text[1] === '\0' || text[0] === '\0');
  return {
    location: { file, ...positionIn(text, nul) },
    message: utf16 ? 'NUL bytes between the characters: the file looks like UTF-16; save it as UTF-8' : 'a NUL byte: not a text file?',
  };
}

/** yaml's message, made readable where it is not, and never long. */
function syntaxMessage(code: string, message: string): string {
  if (code === 'RESOURCE_EXHAUSTION' || /Maximum call stack/.test(message)) {
    return 'nested too deeply to read: a scenario or rig needs only a few levels';
  }
  return message.length > 200 ? `${message.slice(0, 200)}...` : message;
}

function findPair(map: YamlNode, key: string) {
  if (!isMap(map)) return undefined;
  return map.items.find((pair) => isPair(pair) && isScalar(pair.key) && String(pair.key.value) === key);
}

// ---------------------------------------------------------------------------------------------
// ${env.NAME} substitution

const REFERENCE_RE = /\$\{([^}]*)\}/g;
const ENV_RE = /^env\.([A-Za-z_][A-Za-z0-9_]*)$/;
/** A custom board field name, as `vars:` keys and `${board.<field>}` spell it. */
export const FIELD_NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const BOARD_FIELD_RE = /^board\.[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Replaces `${env.NAME}` in every string value (not keys) of the document, in place, so positions
 * survive. A plain (unquoted) scalar that is exactly one reference is re-read as YAML, so
 * `samples: ${env.SAMPLES}` can be a number; a quoted one stays a string. `${board.<field>}` is left
 * for the runner when `boardFields` is true, and is an error otherwise (rig files have no board context).
 */
export function substituteEnv(source: YamlSource, env: EnvLike, options: { boardFields: boolean }): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  visit(source.doc, {
    Scalar(key, node: Scalar) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const original = node.value;
      const problems: string[] = [];
      const replaced = original.replace(REFERENCE_RE, (whole, inner: string) => {
        const envMatch = ENV_RE.exec(inner.trim());
        if (envMatch) {
          const value = env[envMatch[1] as string];
          if (value === undefined) problems.push(`environment variable ${envMatch[1]} is not set (used as ${clipped(whole)})`);
          return value ?? whole;
        }
        if (BOARD_FIELD_RE.test(inner.trim())) {
          if (!options.boardFields) problems.push(`${clipped(whole)}: board fields can only be used in scenario files`);
          return whole;
        }
        problems.push(
          `unknown reference ${clipped(whole)}: expected \${env.NAME}` + (options.boardFields ? ' or ${board.<field>}' : ''),
        );
        return whole;
      });
      for (const message of problems) issues.push({ location: source.locate(node), message });
      if (problems.length > 0 || replaced === original) return;
      node.value = node.type === 'PLAIN' && /^\$\{[^}]*\}$/.test(original.trim()) ? retype(replaced) : replaced;
    },
  });
  return issues;
}

/** How YAML would have read the text had it been written in place: numbers and booleans, else the text. */
function retype(text: string): string | number | boolean {
  try {
    const value: unknown = parse(text);
    return typeof value === 'number' || typeof value === 'boolean' ? value : text;
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// zod issues -> located messages

/** Where a schema was applied: the YAML node its input came from, and how to name paths under it. */
export interface SchemaScope {
  source: YamlSource;
  schema: z.core.$ZodType;
  /** The node the schema's input came from; undefined when the input was absent (e.g. `- dial:`). */
  node: YamlNode | undefined;
  /** Where to point when `node` is absent. */
  fallback: YamlNode | undefined;
  /** Path prefix for messages, e.g. ['dial'] gives `dial.timeout: ...`. */
  label: PropertyKey[];
}

export function locateZodIssues(scope: SchemaScope, zodIssues: readonly z.core.$ZodIssue[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const { source } = scope;
  for (const issue of zodIssues) {
    const path = issue.path;
    const walked = scope.node ? source.walk(scope.node, path) : {};
    const at = (node: YamlNode | undefined) => source.locate(node ?? walked.deepest ?? scope.node ?? scope.fallback);
    const name = labelOf([...scope.label, ...path]);
    const prefix = name ? `${name}: ` : '';
    const parentName = labelOf([...scope.label, ...path.slice(0, -1)]);
    const parentPrefix = parentName ? `${parentName}: ` : '';

    if (issue.code === 'unrecognized_keys') {
      const allowed = objectKeysAt(scope.schema, path);
      const container = walked.node ?? walked.deepest;
      for (const key of issue.keys) {
        const suggestion = allowed ? didYouMean(key, allowed) : '';
        const expected = allowed ? `; expected ${allowed.length === 1 ? '' : 'one of '}${allowed.join(', ')}` : '';
        issues.push({
          location: source.locate(source.keyNode(container, key) ?? container ?? scope.fallback),
          message: `${labelOf([...scope.label, ...path]) || 'top level'}: unknown key ${quoted(key)}${suggestion}${expected}`,
        });
      }
      continue;
    }

    if (issue.code === 'invalid_key') {
      // A record key that its key schema rejects: point at the key, not its value.
      const key = String(path.at(-1));
      const container = source.walk(scope.node, path.slice(0, -1)).node;
      issues.push({
        location: source.locate(source.keyNode(container, key) ?? container ?? scope.fallback),
        message: `${parentPrefix}key ${quoted(key)}: ${issue.issues.map((inner) => inner.message).join('; ')}`,
      });
      continue;
    }

    const present = walked.node !== undefined || (scope.node === undefined && path.length === 0);
    const value = walked.node && isScalar(walked.node) ? walked.node.value : walked.node;
    if (issue.code === 'invalid_type' && !present && scope.node !== undefined) {
      // A key that is not there: point at the mapping it belongs in.
      issues.push({ location: at(walked.deepest), message: `${parentPrefix}missing required key "${String(path.at(-1))}"` });
      continue;
    }
    if (issue.code === 'invalid_type' && scope.node === undefined && path.length > 0) {
      issues.push({
        location: at(undefined),
        message: `${parentPrefix}missing required key "${String(path.at(-1))}" (${labelOf(scope.label)} has no arguments)`,
      });
      continue;
    }
    const location = at(source.pointAt(walked));
    const got = walked.node ? describeNode(walked.node) : 'nothing';
    switch (issue.code) {
      case 'invalid_type': {
        const duration = isDurationAt(scope.schema, path);
        const wanted = duration ? 'a duration with a unit (500ms, 60s, 5m)' : expectedName(issue.expected);
        // YAML reads 0011 or 1.10 as numbers; quoting keeps what was written.
        const written = isScalar(walked.node) && typeof walked.node.value !== 'string' ? walked.node.source : undefined;
        const hint = issue.expected === 'string' && !duration && written ? `; quote it to keep it as written: ${quoted(written)}` : '';
        issues.push({ location, message: `${prefix}expected ${wanted}, got ${got}${hint}` });
        break;
      }
      case 'invalid_value': {
        const options = issue.values.map((option) => String(option));
        const suggestion = typeof value === 'string' ? didYouMean(value, options) : '';
        issues.push({ location, message: `${prefix}expected ${options.length === 1 ? '' : 'one of '}${options.join(', ')}; got ${got}${suggestion}` });
        break;
      }
      case 'too_small':
      case 'too_big':
        issues.push({ location, message: `${prefix}${boundMessage(issue)}, got ${got}` });
        break;
      default:
        issues.push({ location, message: `${prefix}${issue.message}` });
    }
  }
  return issues;
}

function labelOf(path: readonly PropertyKey[]): string {
  let label = '';
  for (const segment of path) {
    if (typeof segment === 'number') label += `[${segment}]`;
    else label += label ? `.${String(segment)}` : String(segment);
  }
  return label;
}

function expectedName(expected: string): string {
  switch (expected) {
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    default:
      return expected;
  }
}

function boundMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const limit = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'array':
      return small ? `needs at least ${limit} item${limit === 1 ? '' : 's'}` : `allows at most ${limit} items`;
    case 'string':
      if (small && Number(limit) === 1) return 'must not be empty';
      return small ? `must be at least ${limit} characters long` : `must be at most ${limit} characters long`;
    default:
      return `must be ${small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<'} ${limit}`;
  }
}

/** `60 (a number)`, `"five" (a string)`, `a mapping`: what the user wrote, for "got ..." */
export function describeNode(node: YamlNode): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value = node.value;
    if (value === null || value === undefined) return 'nothing (null)';
    if (typeof value === 'string') return `${quoted(value)} (a string)`;
    return `${String(value)} (a ${typeof value})`;
  }
  return 'something else';
}

// ---------------------------------------------------------------------------------------------
// Looking inside schemas: allowed keys for "did you mean", and whether a field is a duration.

/** Strips wrappers that do not change the input's shape: optional, default, transforms ... */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (let depth = 0; depth < 32; depth++) {
    if (current instanceof z.ZodPipe) {
      current = current.in instanceof z.ZodTransform ? current.out : current.in;
    } else if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodCatch ||
      current instanceof z.ZodReadonly
    ) {
      current = current.unwrap();
    } else {
      break;
    }
  }
  return current;
}

function schemaAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): z.core.$ZodType | undefined {
  let current: z.core.$ZodType | undefined = schema;
  for (const segment of path) {
    const inner: z.core.$ZodType = unwrap(current);
    if (inner instanceof z.ZodObject) current = inner.shape[String(segment)];
    else if (inner instanceof z.ZodArray) current = inner.element;
    else if (inner instanceof z.ZodRecord) current = inner.valueType;
    else return undefined;
    if (!current) return undefined;
  }
  return current;
}

/** The keys the object schema at `path` allows, or undefined when it isn't a plain object schema. */
export function objectKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] | undefined {
  const target = schemaAt(schema, path);
  const inner = target && unwrap(target);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : undefined;
}

/**
 * True when the field at `path` is the shared duration schema (or a refinement of it): refinements
 * clone the pipe but keep its input schema, so the input is what identifies it.
 */
function isDurationAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): boolean {
  let target = schemaAt(schema, path);
  for (let depth = 0; target && depth < 8; depth++) {
    if (target instanceof z.ZodPipe) return target.in === durationMs.in;
    if (target instanceof z.ZodOptional || target instanceof z.ZodDefault || target instanceof z.ZodNullable) {
      target = target.unwrap();
    } else {
      return false;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Suggestions

/** Optimal-string-alignment distance: edits, with a swap of neighbours (`dail` -> `dial`) counting one. */
export function editDistance(a: string, b: string): number {
  // Three rolling rows (the swap looks two back) instead of a table: thousands of typos stay cheap.
  const cols = b.length + 1;
  let before = new Uint32Array(cols);
  let previous = Uint32Array.from({ length: cols }, (_, j) => j);
  let current = new Uint32Array(cols);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, (before[j - 2] as number) + 1);
      current[j] = best;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length] as number;
}

/** Words longer than this are no typo of a key or kind; the distance's table would be megabytes. */
const MAX_SUGGESTED_WORD = 64;

/** The closest candidate if it is close enough to be a plausible typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > MAX_SUGGESTED_WORD) return undefined;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(1, Math.floor(Math.min(word.length, best.length) / 3));
  return bestDistance <= allowed ? best : undefined;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = nearest(word, candidates);
  return match ? ` (did you mean "${match}"?)` : '';
}
