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
      // Whole seconds kept: the truth is behind by the dropped fraction (under 1 s) plus a loopback
      // one-way delay, so the interval (which holds the truth) meets that window. Its width is a few ms
      // on an idle machine and grows, honestly, when the host is loaded (the board's loop runs slowly).
      expect(m.high, m.name).toBeGreaterThan(-1050);
      expect(m.low, m.name).toBeLessThan(5);
      expect(m.uncertainty, m.name).toBeLessThan(250);
    }
    const mean = measurements[4] as Measurement;
    expect(mean.name).toBe('mean board clock offset from UTC (4 readings)');
    // The mean of four offsets 0 to 1 s behind (near -500 ms on average over runs, but one run's four
    // syncs fall where they fall in the second: only its bounds are certain).
    const average = measurements.slice(0, 4).reduce((sum, m) => sum + m.value, 0) / 4;
    expect(mean.value).toBeCloseTo(average, 1);
    expect(mean.high).toBeGreaterThan(-1050);
    expect(mean.low).toBeLessThan(5);
    expect(mean.outcome).toBe('FAIL');
    expect(compare?.message).toMatch(/; mean -\d+(\.\d)?ms ±\d+(\.\d)?ms \(reading .*limit ±100ms\): FAIL \(\d of 4 readings outside\)/);
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
      // (U_first + U_last) / 20 s: a few ms each gives a few hundred ppm (more on a loaded host).
      expect(m?.uncertainty, id).toBeLessThan(20_000);
      const parts = Object.values(m?.uncertaintyParts ?? {}).reduce((a, b) => a + b, 0);
      expect(parts, id).toBeCloseTo(m?.uncertainty ?? 0, 2);
    }
    // The verdicts follow from the intervals: inside ±5000 ppm is a PASS, wholly beyond it a FAIL, and a
    // straddle at least half the tolerance wide (readings slowed by a loaded host) no verdict.
    const d40 = measured.get('d40');
    const d40m = d40?.measurements[0];
    const inside = d40m !== undefined && d40m.low >= -5000 && d40m.high <= 5000;
    expect(d40?.outcome).toBe(inside ? 'PASS' : (d40m?.uncertainty ?? Infinity) >= 2500 ? 'ERROR' : 'FAIL');
    if (d40?.outcome === 'ERROR') expect(d40.message).toMatch(/too coarse to judge ±5000ppm; over: .* would do/);
    const d20000 = measured.get('d20000');
    expect(d20000?.measurements[0]?.uncertainty ?? Infinity).toBeLessThan(15_000);
    expect(d20000).toMatchObject({ outcome: 'FAIL', fault: 'board' });
    expect(d20000?.message).toMatch(/^board clock drift \+\d+(\.\d)?ppm ±\d+(\.\d)?ppm \(.*limit ±5000ppm\): FAIL/);
  }, 60_000);
});
