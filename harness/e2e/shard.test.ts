// `qhil run --shard 1/3`, `2/3`, `3/3` on a small simulated rig, then `qhil report <dirs...> --out`:
// the same totals and exit code as one unsharded run, as a user's CI fan-out would see them.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../core/model.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'qhil.js');
const dir = mkdtempSync(join(tmpdir(), 'qhil-e2e-shard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RIG = join(dir, 'rig.yaml');
// sim-b is 37 s fast and never synced: its compares FAIL, so the verdict to reproduce is exit 1.
writeFileSync(
  RIG,
  `name: shard-rig
concurrency: 2
boards:
  - { id: sim-a, sim: { profile: ec200u, offset: 0s } }
  - { id: sim-b, sim: { profile: ec200u, offset: 37s } }
  - { id: sim-c, sim: { profile: ec200u, offset: 0s } }
`,
);
const SCENARIOS = ['one', 'two'].map((name) => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\ntimeout: 1m\nsteps:\n  - read-time: { via: repl, as: t1 }\n  - compare: { read: t1, timezone: 1, tolerance: 2s }\n`);
  return file;
});

async function qhil(args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const done = await execa('node', [BIN, ...args], { reject: false, timeout: 90_000, env: { CI: 'true' }, stdin: 'ignore' });
  return { exitCode: done.exitCode, stdout: String(done.stdout), stderr: String(done.stderr) };
}

function onlyRun(outDir: string): string {
  const [run] = readdirSync(outDir);
  if (!run) throw new Error(`no run folder in ${outDir}`);
  return join(outDir, run);
}

function record(runDir: string): RunResult {
  return JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8')) as RunResult;
}

function totals(result: RunResult): Record<string, unknown> {
  const pairs = result.boards.flatMap((b) => b.scenarios.map((s) => `${b.id}/${s.scenario}:${s.outcome}`)).sort();
  return { pairs, outcome: result.outcome, exitCode: result.exitCode };
}

function testcases(junit: string): string[] {
  return [...junit.matchAll(/<testcase ([^>]*)>/g)]
    .map((m) => {
      const attribute = (name: string): string => new RegExp(`\\b${name}="([^"]*)"`).exec(m[1] ?? '')?.[1] ?? '';
      return `${attribute('classname')}/${attribute('name')}`;
    })
    .sort();
}

describe('shards then merge', () => {
  it('--shard 1/3, 2/3, 3/3 merged by qhil report equal one unsharded run: totals, junit cases, exit code', async () => {
    const whole = join(dir, 'whole');
    const unsharded = await qhil(['run', ...SCENARIOS, '--rig', RIG, '--out', whole]);
    expect(unsharded.exitCode, unsharded.stderr).toBe(1);

    const shardDirs: string[] = [];
    for (const index of [1, 2, 3]) {
      const out = join(dir, `shard-${index}`);
      const shard = await qhil(['run', ...SCENARIOS, '--rig', RIG, '--out', out, '--shard', `${index}/3`]);
      expect([0, 1], shard.stderr).toContain(shard.exitCode);
      const runDir = onlyRun(out);
      expect(record(runDir).shard).toMatchObject({ index, count: 3 });
      shardDirs.push(runDir);
    }
    const shardPairs = shardDirs.flatMap((runDir) => record(runDir).boards.flatMap((b) => b.scenarios.map((s) => `${b.id}/${s.scenario}`)));
    expect(shardPairs.sort()).toEqual(['sim-a/one', 'sim-a/two', 'sim-b/one', 'sim-b/two', 'sim-c/one', 'sim-c/two']);

    const mergedDir = join(dir, 'merged');
    const merge = await qhil(['report', ...shardDirs, '--out', mergedDir]);
    expect(merge.exitCode, merge.stderr).toBe(0);
    const merged = record(mergedDir);
    const reference = record(onlyRun(whole));
    expect(totals(merged)).toEqual(totals(reference));
    expect(merged.exitCode).toBe(unsharded.exitCode);
    expect(merged.mergedShards?.map((s) => `${s.index}/${s.count}`)).toEqual(['1/3', '2/3', '3/3']);
    const mergedJunit = readFileSync(join(mergedDir, 'junit.xml'), 'utf8');
    expect(testcases(mergedJunit)).toHaveLength(6);
    expect(testcases(mergedJunit)).toEqual(testcases(readFileSync(join(onlyRun(whole), 'junit.xml'), 'utf8')));
    expect(mergedJunit.match(/<failure/g)?.length).toBe(2);
    expect(readFileSync(join(mergedDir, 'summary.md'), 'utf8')).not.toMatch(/not run/i);
  }, 240_000);

  it('a bad --shard or --concurrency is bad input: exit 2, nothing run', async () => {
    for (const flags of [['--shard', '4/3'], ['--shard', 'two'], ['--concurrency', '0'], ['--concurrency', 'many']]) {
      const out = join(dir, `bad-${flags.join('')}`);
      const done = await qhil(['run', SCENARIOS[0] as string, '--rig', RIG, '--out', out, ...flags]);
      expect(done.exitCode, flags.join(' ')).toBe(2);
      expect(done.stderr).toMatch(new RegExp(flags[0] as string));
    }
  }, 60_000);
});
