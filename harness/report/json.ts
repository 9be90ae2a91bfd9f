/**
 * result.json: the whole record of a run. The runner rewrites it while the run goes on, so it is
 * always replaced atomically (temp file, fsync, rename): an interrupted run still leaves a valid file.
 * A write that fails (read-only folder, full disk) is an InfrastructureError naming the file and why.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../core/errors.js';
import type { RunResult } from '../core/model.js';
import { foldEvents } from './events.js';
import { describeIoError, writeFailure } from './io-error.js';

export const RESULT_JSON = 'result.json';

/** Writes `text` to `file` so that readers see either the old content or the new, never a torn file. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw writeFailure('write', file, error, dir);
  }
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(temp, 'w');
  } catch (error) {
    throw writeFailure('write', file, error);
  }
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
  } catch (error) {
    // The write's own error says why (ENOSPC); a close failing after it must not hide that.
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw writeFailure('write', file, error);
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw writeFailure('write', file, error);
  }
}

export function renderResultJson(result: RunResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}

/** Writes `<runDir>/result.json` atomically and returns its path. */
export async function writeResultJson(runDir: string, result: RunResult): Promise<string> {
  const file = join(runDir, RESULT_JSON);
  await writeFileAtomic(file, renderResultJson(result));
  return file;
}

// ---------------------------------------------------------------------------------------------
// Reading result.json back (qhil report). The schema checks what the renderers rely on and keeps
// every other field, so a newer result.json still renders.

const outcome = z.enum(['PASS', 'FAIL', 'ERROR', 'SKIP']);
/** A scenario's or a run's record says RUNNING until it is finished (a killed run leaves it so). */
const recordOutcome = z.enum(['PASS', 'FAIL', 'ERROR', 'SKIP', 'RUNNING']);
const fault = z.enum(['board', 'rig', 'input', 'harness']);
/** JSON has no Infinity: a one-sided limit was written as null. */
const limit = (unbounded: number) => z.number().nullable().transform((v) => (v === null ? unbounded : v));

const location = z.looseObject({ file: z.string(), line: z.number(), column: z.number() });

const measurement = z.looseObject({
  name: z.string(),
  value: z.number(),
  unit: z.string(),
  low: z.number(),
  high: z.number(),
  uncertainty: z.number(),
  limitLow: limit(Number.NEGATIVE_INFINITY),
  limitHigh: limit(Number.POSITIVE_INFINITY),
  outcome: z.enum(['PASS', 'FAIL', 'MARGINAL', 'UNSET']),
  explanation: z.string().optional(),
});

const step = z.looseObject({
  index: z.number().int(),
  kind: z.string(),
  title: z.string(),
  outcome,
  startedAt: z.string(),
  durationMs: z.number(),
  harnessMs: z.number().optional(),
  attempts: z.number(),
  message: z.string().optional(),
  fault: fault.optional(),
  measurements: z.array(measurement),
  data: z.record(z.string(), z.unknown()),
  location,
});

const scenario = z.looseObject({
  scenario: z.string(),
  file: z.string(),
  board: z.string(),
  outcome: recordOutcome,
  startedAt: z.string(),
  durationMs: z.number(),
  message: z.string().optional(),
  fault: fault.optional(),
  current: z.looseObject({ index: z.number().int(), title: z.string(), startedAt: z.string() }).optional(),
  steps: z.array(step),
});

const identity = z.looseObject({
  model: z.string().optional(),
  firmware: z.string().optional(),
  quecpython: z.string().optional(),
  imei: z.string().optional(),
  details: z.record(z.string(), z.string()),
});

const board = z.looseObject({
  id: z.string(),
  model: z.string().optional(),
  identity: identity.optional(),
  ports: z.looseObject({ repl: z.string().optional(), at: z.string().optional() }),
  transcripts: z.array(z.string()),
  scenarios: z.array(scenario),
  notes: z.array(z.string()).optional(),
});

const reference = z.looseObject({
  servers: z.array(z.string()),
  offsetMs: z.number(),
  uncertaintyMs: z.number(),
  measuredAt: z.string(),
  detail: z.unknown(),
});

const runResultSchema = z.looseObject({
  runId: z.string(),
  tool: z.looseObject({ name: z.literal('qhil'), version: z.string() }),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  durationMs: z.number().optional(),
  aborted: z.boolean(),
  outcome: recordOutcome,
  exitCode: z.number().int(),
  host: z.looseObject({ hostname: z.string(), platform: z.string(), node: z.string() }),
  tags: z.array(z.string()),
  scenarios: z.array(z.looseObject({ name: z.string(), file: z.string(), sha256: z.string().optional() })),
  boards: z.array(board),
  references: z.array(reference),
  shard: z
    .looseObject({
      index: z.number().int(),
      count: z.number().int(),
      plan: z.array(z.looseObject({ board: z.string(), scenario: z.string(), shard: z.number().int() })),
    })
    .optional(),
  mergedShards: z
    .array(z.looseObject({ index: z.number().int(), count: z.number().int(), runId: z.string(), hostname: z.string() }))
    .optional(),
});

/** Checks at compile time that what the schema accepts is a RunResult. */
const _schemaMatchesModel: (parsed: z.output<typeof runResultSchema>) => RunResult = (parsed) => parsed;

/** Parses result.json text; throws InputError naming `file` and what is wrong with it. */
export function parseResultJson(text: string, file: string): RunResult {
  return checkResult(parseJson(text, file), file);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(`${file}: not valid JSON: ${(error as Error).message}`);
  }
}

function checkResult(raw: unknown, file: string): RunResult {
  const parsed = runResultSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new InputError(`${file}: not a qhil result${where}: ${issue?.message ?? 'unknown problem'}`);
  }
  return _schemaMatchesModel(parsed.data);
}

/**
 * Reads and checks `<file>`; throws InputError when it is missing, unreadable or not a RunResult.
 * A record left unfinished (RUNNING: a killed run) gets what the events.jsonl beside it says
 * happened after its last snapshot (foldEvents), before it is checked.
 */
export async function readResultJson(file: string): Promise<RunResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : describeIoError(error);
    throw new InputError(`${file}: cannot read: ${why}`);
  }
  const raw = parseJson(text, file);
  const unfinished = raw !== null && typeof raw === 'object' && (raw as { outcome?: unknown }).outcome === 'RUNNING';
  return checkResult(unfinished ? foldEvents(raw as RunResult, dirname(file)) : raw, file);
}
