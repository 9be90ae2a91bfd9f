import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../core/errors.js';
import type { RunResult } from '../core/model.js';
import { parseResultJson, readResultJson, writeResultJson } from './json.js';
import { writeRunReports } from './write.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/results');
const load = (name: string): Promise<RunResult> => readResultJson(join(FIXTURES, name, 'result.json'));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qhil-json-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('result.json', () => {
  it('round-trips a RunResult and leaves no temporary file behind', async () => {
    const result = await load('fail');
    const file = await writeResultJson(dir, result);
    expect(file).toBe(join(dir, 'result.json'));
    expect(await readResultJson(file)).toEqual(result);
    expect(await readdir(dir)).toEqual(['result.json']);
  });

  it('replaces the file whole on every rewrite during a run', async () => {
    const result = await load('pass');
    await writeResultJson(dir, { ...result, boards: [] });
    await writeResultJson(dir, result);
    expect((await readResultJson(join(dir, 'result.json'))).boards).toHaveLength(1);
    expect(await readdir(dir)).toEqual(['result.json']);
  });

  it('reads a one-sided limit written as null (JSON has no Infinity) back as unbounded', async () => {
    const result = await load('fail');
    const m = result.boards[0]?.scenarios[0]?.steps[3]?.measurements[0];
    if (!m) throw new Error('fixture changed');
    m.limitLow = Number.NEGATIVE_INFINITY;
    const reread = parseResultJson(JSON.stringify(result), 'x/result.json');
    expect(reread.boards[0]?.scenarios[0]?.steps[3]?.measurements[0]?.limitLow).toBe(Number.NEGATIVE_INFINITY);
  });

  it('says which file is wrong and why', async () => {
    await expect(readResultJson(join(dir, 'missing.json'))).rejects.toThrow(`${join(dir, 'missing.json')}: cannot read: no such file`);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"runId": ');
    await expect(readResultJson(broken)).rejects.toThrow(new RegExp(`^${broken}: not valid JSON`));
    const wrong = join(dir, 'wrong.json');
    const result = await load('pass');
    await writeFile(wrong, JSON.stringify({ ...result, boards: [{ ...result.boards[0], scenarios: 'none' }] }));
    const error = await readResultJson(wrong).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(new RegExp(`^${wrong}: not a qhil result at boards\\.0\\.scenarios: `));
  });
});

describe('writeRunReports', () => {
  it('writes result.json, junit.xml and summary.md into the run folder', async () => {
    const result = await load('fail');
    const written = await writeRunReports(join(dir, 'run'), result);
    expect(written).toEqual(['result.json', 'junit.xml', 'summary.md'].map((f) => join(dir, 'run', f)));
    expect(await readResultJson(join(dir, 'run', 'result.json'))).toEqual(result);
    expect(await readFile(join(dir, 'run', 'junit.xml'), 'utf8')).toContain('<failure ');
    expect(await readFile(join(dir, 'run', 'summary.md'), 'utf8')).toContain('EC200UEUAAR03A01M08_OCPU_QPY');
  });
});
