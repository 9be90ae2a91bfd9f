import { pathToFileURL } from 'node:url';
import { startSimBoard } from '../sim/board.js';
import { median, round } from './stats.js';

const WARMUP = 2;
const SAMPLES = 10;

/**
 * Time to start a simulated board (board worker, VM thread, MicroPython boot, banner printed) until
 * `startSimBoard` resolves, and to close it again. Host monotonic clock, ms, median of SAMPLES.
 */
export async function benchSim(): Promise<Record<string, number | string>> {
  const startMs: number[] = [];
  const closeMs: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i += 1) {
    const startedAt = performance.now();
    const board = await startSimBoard({ profile: 'ec200u' });
    const bootedAt = performance.now();
    await board.close();
    if (i < WARMUP) continue;
    startMs.push(bootedAt - startedAt);
    closeMs.push(performance.now() - bootedAt);
  }
  return {
    simSamples: SAMPLES,
    simBoardStartMedianMs: round(median(startMs)),
    simBoardStartMaxMs: round(Math.max(...startMs)),
    simBoardCloseMedianMs: round(median(closeMs)),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchSim().then(
    (result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`),
    (error: unknown) => {
      process.stderr.write(`bench sim: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 3;
    },
  );
}
