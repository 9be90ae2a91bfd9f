/**
 * The files users copy: the systemd units (checked by systemd-analyze verify), the CI pipeline
 * (parsed, its shards cover 1..n, only exit 3 is retried), its retry script (run with a fake qhil),
 * the release-gate scenario and its rig (loaded as qhil loads them).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadRig } from '../runner/rig.js';
import { loadScenario } from '../runner/scenario.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((path) => existsSync(path));
const RETRY = join(ROOT, 'examples', 'ci', 'run-with-retry.sh');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qhil-examples-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('systemd units', () => {
  it.skipIf(!SYSTEMD_ANALYZE && !process.env.CI)('pass systemd-analyze verify without a warning, and retry only exit 3', async () => {
    for (const unit of ['qhil-nightly.service', 'qhil-nightly.timer']) copyFileSync(join(ROOT, 'examples', 'systemd', unit), join(dir, unit));
    const result = await execa(SYSTEMD_ANALYZE ?? 'systemd-analyze', ['verify', join(dir, 'qhil-nightly.service'), join(dir, 'qhil-nightly.timer')], { reject: false });
    // Unknown keys are only warnings (exit 0): any line about our units is a defect.
    expect(result.stderr.split('\n').filter((line) => line.includes('qhil-nightly'))).toEqual([]);
    expect(result.exitCode).toBe(0);
    const service = readFileSync(join(dir, 'qhil-nightly.service'), 'utf8');
    expect(service).toMatch(/^SuccessExitStatus=1$/m);
    expect(service).toMatch(/^Restart=on-failure$/m);
    expect(service).toMatch(/^RestartPreventExitStatus=2$/m);
  });
});

describe('CI pipeline', () => {
  interface Step {
    run?: string;
    uses?: string;
    if?: string;
  }
  interface Job {
    needs?: string | string[];
    if?: string;
    'runs-on': string | string[];
    strategy?: { matrix: { rig: string[]; shard: number[]; of: number[] } };
    steps: Step[];
  }
  const pipeline = parse(readFileSync(join(ROOT, 'examples', 'ci', 'github-actions-rig.yml'), 'utf8')) as { jobs: Record<string, Job> };

  it('fans out shards 1..n on runners labelled per rig, and merges them whatever their outcome', () => {
    const shard = pipeline.jobs.shard as Job;
    const matrix = shard.strategy?.matrix;
    expect(matrix?.shard).toEqual(Array.from({ length: matrix?.of[0] ?? 0 }, (_, index) => index + 1));
    expect(shard['runs-on']).toEqual(['self-hosted', 'qhil-${{ matrix.rig }}']);
    const run = shard.steps.map((step) => step.run ?? '').join('\n');
    expect(run).toMatch(/^examples\/ci\/run-with-retry\.sh \d+ \d+ node bin\/qhil\.js run /m);
    expect(run).toContain('--shard ${{ matrix.shard }}/${{ matrix.of }}');
    expect(shard.steps.some((step) => step.uses?.startsWith('actions/upload-artifact') && step.if === 'always()')).toBe(true);
    const merge = pipeline.jobs.merge as Job;
    expect(merge.needs).toBe('shard');
    expect(merge.if).toBe('always()');
    const mergeRun = merge.steps.map((step) => step.run ?? '').join('\n');
    expect(mergeRun).toMatch(/node bin\/qhil\.js report shards\/\*\/\*\/ --out merged/);
    expect(mergeRun).toMatch(/exit "\$code"/);
  });

  it('its retry script reruns only exit 3, up to its attempts, and returns every other code at once', async () => {
    const fake = join(dir, 'fake-qhil.sh');
    // Exits with the codes listed in a file, one per run, and counts its runs.
    writeFileSync(fake, `#!/bin/sh\nn=$(cat "$1.n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$1.n"\nexit $(sed -n "\${n}p" "$1")\n`, { mode: 0o755 });
    const attempt = async (codes: number[]): Promise<{ exitCode: number | undefined; runs: number }> => {
      const script = join(dir, `codes-${codes.join('-')}`);
      writeFileSync(script, `${codes.join('\n')}\n`);
      const result = await execa(RETRY, ['3', '0', fake, script], { reject: false });
      return { exitCode: result.exitCode, runs: Number(readFileSync(`${script}.n`, 'utf8')) };
    };
    expect(await attempt([3, 3, 0])).toEqual({ exitCode: 0, runs: 3 });
    expect(await attempt([3, 1])).toEqual({ exitCode: 1, runs: 2 });
    expect(await attempt([1])).toEqual({ exitCode: 1, runs: 1 });
    expect(await attempt([2])).toEqual({ exitCode: 2, runs: 1 });
    expect(await attempt([3, 3, 3, 0])).toEqual({ exitCode: 3, runs: 3 });
  });
});

describe('release gate', () => {
  it('loads with its rig: every board pinned, strict tolerances, a clean boot first', () => {
    const scenario = loadScenario(join(ROOT, 'scenarios', 'release-gate.yaml'));
    expect(scenario.tags).toContain('release');
    expect(scenario.steps[0]?.kind).toBe('reset');
    const compares = scenario.steps.filter((step) => step.kind === 'compare');
    expect(compares.length).toBeGreaterThanOrEqual(2);
    for (const compare of compares) expect(compare.args).toMatchObject({ toleranceMs: 1000, marginal: 'fail' });
    const rig = loadRig(join(ROOT, 'examples', 'rig-release.yaml'));
    for (const board of rig.boards) {
      expect(board.pin?.imei).toMatch(/^\d{15}$/);
      expect(board.pin?.firmware).toBeDefined();
      expect(board.power).toBeDefined();
    }
    expect(rig.boards[0]?.usbPorts).toEqual({ at: { usbSerial: '0123456789', role: 'at' }, repl: { usbSerial: '0123456789', role: 'repl' } });
  });
});
