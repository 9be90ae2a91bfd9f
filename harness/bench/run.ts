import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runScenarios } from '../runner/run.js';
import { loadScenario } from '../runner/scenario.js';
import { startSimWorld } from '../runner/sim-world.js';
import { median, round } from './stats.js';

/**
 * The demo's wall time, end to end in-process (sim board start, identify, every step, reports), and
 * the harness's own time per step: the event loop's busy time while the step ran. The simulated
 * board runs in a worker thread, so its time is not counted as the harness's.
 */
export async function benchRun(runs = 5): Promise<Record<string, number | string>> {
  const scenario = loadScenario(fileURLToPath(new URL('../../scenarios/demo.yaml', import.meta.url)));
  const wallMs: number[] = [];
  const harnessByKind = new Map<string, number[]>();
  const out = mkdtempSync(join(tmpdir(), 'qhil-bench-'));
  try {
    for (let i = 0; i < runs; i++) {
      const startedAt = performance.now();
      const world = await startSimWorld([scenario]);
      try {
        const { result } = await runScenarios({
          scenarios: [scenario],
          boards: [{ id: 'sim', sim: { profile: 'ec200u', offsetMs: 63_400, faults: [] }, fields: {} }],
          outDir: out,
          reference: world.reference,
          simHosts: world.hosts,
        });
        if (result.outcome !== 'PASS') throw new Error(`demo run ${i} gave ${result.outcome}`);
        for (const step of result.boards.flatMap((b) => b.scenarios.flatMap((s) => s.steps))) {
          const list = harnessByKind.get(step.kind) ?? [];
          list.push(step.harnessMs ?? Number.NaN);
          harnessByKind.set(step.kind, list);
        }
      } finally {
        await world.close();
      }
      wallMs.push(performance.now() - startedAt);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const figures: Record<string, number | string> = { 'demo wall time (in-process), median ms': round(median(wallMs)) };
  for (const [kind, samples] of harnessByKind) figures[`harness own time per ${kind} step, median ms`] = round(median(samples));
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchRun());
}
