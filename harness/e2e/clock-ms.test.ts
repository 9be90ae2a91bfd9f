// Millisecond verdicts on the simulated board: the strict scenario shows ntptime's whole-second
// truncation in ms, and the drift step measures an injected drift within its stated uncertainty.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { BoardSpec, Measurement, Scenario } from '../core/model.js';
import { runScenarios } from '../runner/run.js';
import { loadScenario, parseScenarioText } from '../runner/scenario.js';
import { startSimWorld, type SimWorld } from '../runner/sim-world.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function world(scenarios: Scenario[]): Promise<SimWorld> {
  const w = await startSimWorld(scenarios);
  cleanups.push(() => w.close());
  return w;
}

function outDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qhil-clock-ms-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function simBoard(id: string, faults: string[] = [], offsetMs = 0): BoardSpec {
  return { id, sim: { profile: 'ec200u', offsetMs, faults }, fields: {} };
}

describe('millisecond verdicts on the simulated board', () => {
  it('ntp-strict FAILs correct-as-shipped ntptime at ±100 ms, every offset 0 to 1 s behind, their mean in ms', async () => {
    const strict = loadScenario(join(ROOT, 'scenarios', 'ntp-strict.yaml'));
    const w = await world([strict]);
    const { result } = await runScenarios({ scenarios: [strict], boards: [simBoard('sim-1', [], 63_400)], outDir: outDir(), reference: w.reference, simHosts: w.hosts });
    expect(result.exitCode).toBe(1);
    const compare = result.boards[0]?.scenarios[0]?.steps.find((step) => step.kind === 'compare');
    expect(compare).toMatchObject({ outcome: 'FAIL', fault: 'board' });
    const measurements = compare?.measurements ?? [];
    expect(measurements).toHaveLength(5);
    for (const m of measurements.slice(0, 4)) {
      // Whole seconds kept: behind by the dropped fraction (under 1 s) plus a loopback one-way delay.
      expect(m.low, m.name).toBeGreaterThan(-1100);
      expect(m.high, m.name).toBeLessThan(20);
      expect(m.uncertainty, m.name).toBeLessThan(50);
    }
    const mean = measurements[4] as Measurement;
    expect(mean.name).toBe('mean board clock offset from UTC (4 readings)');
    // Four syncs a quarter second apart in phase: the mean is near -500 ms.
    expect(mean.value).toBeGreaterThan(-850);
    expect(mean.value).toBeLessThan(-150);
    expect(mean.outcome).toBe('FAIL');
    expect(compare?.message).toMatch(/; mean -\d{3}\.\dms ±\d+\.\dms \(reading .*limit ±100ms\): FAIL/);
  }, 60_000);

  it('drift measures an injected 40 ppm and 20 000 ppm within the stated uncertainty, and judges them', async () => {
    const drift = parseScenarioText(
      'name: drift\ntimeout: 90s\nsteps:\n  - drift: { via: repl, readings: 3, over: 20s, tolerance: 5000ppm }\n',
      'drift.yaml',
    );
    const w = await world([drift]);
    const boards = [simBoard('d40', ['clock-drift=40']), simBoard('d20000', ['clock-drift=20000'])];
    const { result } = await runScenarios({ scenarios: [drift], boards, outDir: outDir(), reference: w.reference, simHosts: w.hosts });
    const measured = new Map(result.boards.map((board) => [board.id, board.scenarios[0]?.steps[0]]));
    for (const [id, injectedPpm] of [['d40', 40], ['d20000', 20_000]] as const) {
      const m = measured.get(id)?.measurements[0];
      expect(m?.unit, id).toBe('ppm');
      expect(m?.low, id).toBeLessThanOrEqual(injectedPpm);
      expect(m?.high, id).toBeGreaterThanOrEqual(injectedPpm);
      // (U_first + U_last) / 20 s: a few ms each gives a few hundred ppm.
      expect(m?.uncertainty, id).toBeLessThan(4000);
      const parts = Object.values(m?.uncertaintyParts ?? {}).reduce((a, b) => a + b, 0);
      expect(parts, id).toBeCloseTo(m?.uncertainty ?? 0, 2);
    }
    expect(measured.get('d40')?.outcome).toBe('PASS');
    expect(measured.get('d20000')).toMatchObject({ outcome: 'FAIL', fault: 'board' });
    expect(measured.get('d20000')?.message).toMatch(/^board clock drift \+\d+\.\dppm ±\d+\.\dppm \(.*limit ±5000ppm\): FAIL/);
  }, 60_000);
});
