/**
 * What scenario and rig loading share: YAML parsed with positions kept, `${env.NAME}` substitution,
 * and zod issues turned into `file:line:column: message` lines that point at the offending node.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parse, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode, Scalar } from 'yaml';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { errorMessage, formatLocation, InputError, type SourceLocation } from '../core/errors.js';
import { durationMs } from '../core/schema.js';

export interface ValidationIssue {
  location: SourceLocation;
  message: string;
}

/** Everything wrong with one file, collected rather than stopping at the first problem. */
export class ValidationError extends InputError {
  readonly issues: ValidationIssue[];

  constructor(issues: ValidationIssue[]) {
    const sorted = [...issues].sort(
      (a, b) =>
        a.location.file.localeCompare(b.location.file) ||
        a.location.line - b.location.line ||
        a.location.column - b.location.column,
    );
    super(sorted.map((issue) => `${formatLocation(issue.location)}: ${issue.message}`).join('\n'));
    this.name = 'ValidationError';
    this.issues = sorted;
  }
}

export function readSourceFile(file: string, what: 'scenario' | 'rig'): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`${file}: cannot read ${what} file: ${errorMessage(error)}`);
  }
}

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

  /** Parses `text`; syntax errors come back as issues (at most one per line: the rest are echoes). */
  static parse(text: string, file: string): { source: YamlSource; issues: ValidationIssue[] } {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    const source = new YamlSource(file, doc, lineCounter);
    const issues: ValidationIssue[] = [];
    const linesSeen = new Set<number>();
    for (const error of [...doc.errors, ...doc.warnings]) {
      const location = source.locateOffset(error.pos[0]);
      if (linesSeen.has(location.line)) continue;
      linesSeen.add(location.line);
      const lineText = text.split('\n')[location.line - 1] ?? '';
      // An unquoted ${...} inside `{ ... }` is read as a nested flow mapping; say so, yaml can't.
      const hint = /\$\{/.test(lineText) && /[{[]/.test(lineText) ? ' (inside { } or [ ], quote values that use ${...}: "${env.NAME}")' : '';
      issues.push({ location, message: `YAML syntax error: ${error.message}${hint}` });
    }
    return { source, issues };
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
          if (value === undefined) problems.push(`environment variable ${envMatch[1]} is not set (used as ${whole})`);
          return value ?? whole;
        }
        if (BOARD_FIELD_RE.test(inner.trim())) {
          if (!options.boardFields) problems.push(`${whole}: board fields can only be used in scenario files`);
          return whole;
        }
        problems.push(
          `unknown reference ${whole}: expected \${env.NAME}` + (options.boardFields ? ' or ${board.<field>}' : ''),
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
          message: `${labelOf([...scope.label, ...path]) || 'top level'}: unknown key "${key}"${suggestion}${expected}`,
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
        message: `${parentPrefix}key "${key}": ${issue.issues.map((inner) => inner.message).join('; ')}`,
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
        const hint = issue.expected === 'string' && !duration && written ? `; quote it to keep it as written: "${written}"` : '';
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
    if (typeof value === 'string') return `"${value}" (a string)`;
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
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The closest candidate if it is close enough to be a plausible typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
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
