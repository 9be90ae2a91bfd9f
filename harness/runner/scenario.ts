/**
 * Loads a scenario file (DESIGN.md, "Scenario file"): YAML with positions, `${env.NAME}` substituted,
 * schema-checked with every issue collected and pointed at its file:line:column. Step arguments are
 * checked by each step's own schema from the registry, so a new step kind needs no change here.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { parseServerSpec } from '../clock/sntp/client.js';
import { formatDurationMs, parseDurationMs } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { clipped, quoted } from '../core/quote.js';
import { positiveDurationMs } from '../core/schema.js';
import { stepRegistry } from '../steps/index.js';
import type { StepDefinition } from '../steps/step.js';
import type { ReferenceSpec, Scenario, StepSpec } from '../core/model.js';
import {
  describeNode,
  didYouMean,
  dropEchoes,
  locateZodIssues,
  readSourceFile,
  substituteEnv,
  ValidationError,
  YamlSource,
  type EnvLike,
  type ValidationIssue,
} from './yaml-source.js';

export { ValidationError, type ValidationIssue } from './yaml-source.js';

export type StepRegistry = ReadonlyMap<string, StepDefinition>;

export interface LoadOptions {
  /** Where `${env.NAME}` values come from; process.env by default. */
  env?: EnvLike;
  /** The step kinds a scenario may use; the harness's registry by default (tests pass their own). */
  registry?: StepRegistry;
}

const DEFAULT_SCENARIO_TIMEOUT_MS = 5 * 60_000;

const referenceKeySchema = z
  .object({
    id: z.number().int().min(1).max(65535),
    type: z.enum(['MD5', 'SHA1', 'AES128']),
    hex: z.string().regex(/^(?:[0-9a-fA-F]{2})+$/, 'expected the key as hex digits, two per byte'),
  })
  .strict()
  .superRefine((key, ctx) => {
    // AES-128-CMAC takes exactly a 16-byte key; MD5 and SHA1 digests accept any length.
    if (key.type === 'AES128' && key.hex.length !== 32) {
      ctx.addIssue({ code: 'custom', path: ['hex'], message: `an AES128 key is 16 bytes (32 hex digits), got ${key.hex.length / 2} bytes` });
    }
  });

/** Why `server` is not `host`, `host:port`, `[IPv6]` or `[IPv6]:port`, or undefined when it is one. */
export function referenceServerProblem(server: string): string | undefined {
  if (!/^\S+$/.test(server)) return `bad reference server ${quoted(server)}: expected a host name or host:port`;
  try {
    parseServerSpec(server);
    return undefined;
  } catch {
    return `bad reference server ${quoted(server)}: expected host, host:port (port 1-65535), or an IPv6 address in brackets: [::1]:123`;
  }
}

const referenceServer = z.string().superRefine((server, ctx) => {
  const problem = referenceServerProblem(server);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** `reference: { servers, samples, timeout, keys }`, shared by scenario and rig files. */
export const referenceSchema = z
  .object({
    servers: z.array(referenceServer).min(1),
    samples: z.number().int().min(1).max(64).default(4),
    timeout: positiveDurationMs.default(5_000),
    keys: z.array(referenceKeySchema).default([]),
  })
  .strict()
  .superRefine((reference, ctx) => {
    const seen = new Set<number>();
    reference.keys.forEach((key, index) => {
      if (seen.has(key.id)) ctx.addIssue({ code: 'custom', path: ['keys', index, 'id'], message: `key id ${key.id} is defined twice` });
      seen.add(key.id);
    });
  })
  .transform(
    (reference): ReferenceSpec => ({
      servers: reference.servers,
      samples: reference.samples,
      timeoutMs: reference.timeout,
      keys: reference.keys,
    }),
  );

const scenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    tags: z.array(z.string().regex(/^[\w.-]+$/, 'expected a tag: letters, digits, _ . -')).default([]),
    timeout: positiveDurationMs.default(DEFAULT_SCENARIO_TIMEOUT_MS),
    reference: referenceSchema.optional(),
    // Each step is checked against its own kind's schema below, with its own messages.
    steps: z.array(z.unknown()).min(1),
  })
  .strict();

/** Reads and validates a scenario file; throws ValidationError listing every issue, InputError if unreadable. */
export function loadScenario(file: string, options: LoadOptions = {}): Scenario {
  return parseScenarioText(readSourceFile(file, 'scenario'), file, options);
}

export function parseScenarioText(text: string, file: string, options: LoadOptions = {}): Scenario {
  const registry = options.registry ?? stepRegistry;
  const { source, issues } = YamlSource.parse(text, file);
  // A tree with syntax errors is partly guessed; checking it would only add confusing echoes.
  if (issues.length > 0) throw new ValidationError(issues);
  issues.push(...substituteEnv(source, options.env ?? process.env, { boardFields: true }));

  const root = source.root;
  if (!isMap(root)) {
    const got = root ? describeNode(root) : 'an empty file';
    throw new ValidationError([
      { location: source.locate(root), message: `expected a scenario: a mapping with name and steps, got ${got}` },
    ]);
  }
  const input: unknown = source.toJS();
  const parsed = scenarioSchema.safeParse(input);
  if (!parsed.success) {
    issues.push(...locateZodIssues({ source, schema: scenarioSchema, node: root, fallback: root, label: [] }, parsed.error.issues));
  }

  const steps: StepSpec[] = [];
  const stepsNode = source.walk(root, ['steps']).node;
  const rawSteps = (input as { steps?: unknown }).steps;
  if (isSeq(stepsNode) && Array.isArray(rawSteps)) {
    rawSteps.forEach((raw: unknown, index) => {
      const node = source.resolve(stepsNode.items[index]);
      const step = checkStep(source, registry, node, raw, index, issues);
      if (step) steps.push(step);
      if (step && parsed.success) issues.push(...stepTimeoutIssues(source, node, step, parsed.data.timeout));
    });
  }

  if (issues.length > 0 || !parsed.success) throw new ValidationError(dropEchoes(issues));
  const scenario = parsed.data;
  return {
    name: scenario.name,
    ...(scenario.description !== undefined && { description: scenario.description }),
    tags: scenario.tags,
    timeoutMs: scenario.timeout,
    ...(scenario.reference && { reference: scenario.reference }),
    steps,
    file,
  };
}

/**
 * A step's own `timeout:` longer than the scenario's can never be used: the scenario ends first, and
 * the step's time-out would then read as the board's slowness. An error rather than a warning, so
 * `qhil validate` and `qhil run` agree and nothing is run on a scenario that says two things.
 */
function stepTimeoutIssues(source: YamlSource, stepNode: YamlNode | undefined, step: StepSpec, scenarioTimeoutMs: number): ValidationIssue[] {
  const node = source.walk(stepNode, [step.kind, 'timeout']).node;
  const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
  if (text === undefined) return [];
  let timeoutMs: number;
  try {
    timeoutMs = parseDurationMs(text);
  } catch {
    // Malformed, or a ${board.<field>}: the step's schema has its say.
    return [];
  }
  if (timeoutMs <= scenarioTimeoutMs) return [];
  return [
    {
      location: source.locate(node ?? stepNode),
      message:
        `${step.kind}.timeout: ${formatDurationMs(timeoutMs)} is longer than the scenario's timeout of ${formatDurationMs(scenarioTimeoutMs)}, ` +
        "which would end the step first: lower the step's timeout or raise the scenario's",
    },
  ];
}

/**
 * One entry of `steps:`: `- kind: { args }`, `- kind: null` / `- kind:` or `- kind` (no arguments).
 * Returns the step, or undefined after adding its issues.
 */
function checkStep(
  source: YamlSource,
  registry: StepRegistry,
  node: YamlNode | undefined,
  raw: unknown,
  index: number,
  issues: ValidationIssue[],
): StepSpec | undefined {
  const location = source.locate(node);
  const form = 'a step is "- <kind>: { arguments }" or "- <kind>"';

  let kind: string;
  let kindNode: YamlNode | undefined;
  let argsNode: YamlNode | undefined;
  let args: unknown;
  if (typeof raw === 'string' && isScalar(node)) {
    kind = raw;
    kindNode = node;
    args = undefined;
  } else if (isMap(node) && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    if (keys.length !== 1) {
      const [first, ...rest] = keys;
      const argsValue = first === undefined ? undefined : (raw as Record<string, unknown>)[first];
      // `- sync:` followed by arguments at the same indentation reads as one map with several keys.
      const hint =
        first !== undefined && rest.length > 0 && (argsValue === null || argsValue === undefined)
          ? `; if ${rest.map((key) => quoted(key, 40)).join(', ')} ${rest.length === 1 ? 'is an argument' : 'are arguments'} of "${first}", indent ${rest.length === 1 ? 'it' : 'them'} under it`
          : '';
      issues.push({
        location,
        message: `step ${index + 1}: ${form}, with one key; this one has ${keys.length === 0 ? 'none' : `${keys.length} (${keys.slice(0, 5).map((key) => clipped(key, 40)).join(', ')}${keys.length > 5 ? ', ...' : ''})`}${hint}`,
      });
      return undefined;
    }
    kind = keys[0] as string;
    kindNode = source.keyNode(node, kind);
    const walked = source.walk(node, [kind]);
    argsNode = walked.node;
    args = (raw as Record<string, unknown>)[kind];
  } else {
    issues.push({ location, message: `step ${index + 1}: ${form}, got ${node ? describeNode(node) : 'nothing'}` });
    return undefined;
  }

  const definition = registry.get(kind);
  if (!definition) {
    const known = [...registry.keys()].sort();
    issues.push({
      location: source.locate(kindNode ?? node),
      message: `unknown step kind ${quoted(kind)}${didYouMean(kind, known)}; known kinds: ${known.join(', ')}`,
    });
    return undefined;
  }

  if (args === null || args === undefined) {
    args = {};
    argsNode = undefined;
  } else if (typeof args !== 'object' || Array.isArray(args)) {
    issues.push({
      location: source.locate(argsNode),
      message: `${kind}: arguments must be a mapping, e.g. "- ${kind}: { ... }", got ${argsNode ? describeNode(argsNode) : 'something else'}`,
    });
    return undefined;
  }

  let parsed: ReturnType<typeof definition.schema.safeParse>;
  try {
    parsed = definition.schema.safeParse(args);
  } catch (error) {
    issues.push({ location: source.locate(kindNode ?? node), message: `${kind}: cannot check arguments: ${errorMessage(error)}` });
    return undefined;
  }
  const usesBoardFields = mentionsBoardField(args);
  if (!parsed.success) {
    // A value that is a ${board.<field>} stands for what the board will give: judged per board at run time.
    const remaining = parsed.error.issues.filter((issue) => !isBoardPlaceholder(valueAt(args, issue.path)));
    if (remaining.length > 0 || !usesBoardFields) {
      issues.push(
        ...locateZodIssues(
          { source, schema: definition.schema, node: argsNode, fallback: kindNode ?? node, label: [kind] },
          remaining.length > 0 ? remaining : parsed.error.issues,
        ),
      );
      return undefined;
    }
  }
  const written = args as Record<string, unknown>;
  return {
    kind,
    args: parsed.success ? (parsed.data as unknown as Record<string, unknown>) : written,
    location,
    index,
    ...(usesBoardFields && { raw: written }),
  };
}

const BOARD_PLACEHOLDER_RE = /^\$\{\s*board\.[A-Za-z_][A-Za-z0-9_-]*\s*\}$/;

function isBoardPlaceholder(value: unknown): boolean {
  return typeof value === 'string' && BOARD_PLACEHOLDER_RE.test(value.trim());
}

function mentionsBoardField(value: unknown): boolean {
  if (typeof value === 'string') return /\$\{\s*board\./.test(value);
  if (Array.isArray(value)) return value.some(mentionsBoardField);
  if (value !== null && typeof value === 'object') return Object.values(value).some(mentionsBoardField);
  return false;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at: unknown = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}
