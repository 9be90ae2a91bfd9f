import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { startSimBoard } from '../sim/board.js';
import { alternate, comparisonRows, formatSpread, spreadOf, type Subject } from './compare.js';

const SAMPLES = 10;
const VM_READY_DEADLINE_MS = 30_000;

/**
 * The floor of a sim board's start: one worker thread that loads MicroPython's own VM (no Quectel
 * modules, no modem, no AT port) and initialises its REPL.
 */
function plainVmWorkerMs(): Promise<number> {
  const vmUrl = import.meta.resolve('@micropython/micropython-webassembly-pyscript/micropython.mjs');
  const source = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(vmUrl)})
      .then((vm) => vm.loadMicroPython({ stdout: () => undefined, linebuffer: false }))
      .then((mp) => { mp.replInit(); parentPort.postMessage('ready'); });
  `;
  const startedAt = performance.now();
  const worker = new Worker(source, { eval: true });
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the plain VM worker was not ready within ${VM_READY_DEADLINE_MS} ms`)), VM_READY_DEADLINE_MS);
    worker.once('message', () => {
      const readyMs = performance.now() - startedAt;
      clearTimeout(timer);
      void worker.terminate().then(() => resolve(readyMs), reject);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Time to start a simulated board (board worker, VM thread, MicroPython boot, banner printed) until
 * `startSimBoard` resolves, beside a worker loading the plain VM; and to close a board again.
 * Host monotonic clock, ms, SAMPLES runs each, alternating.
 */
export async function benchSim(): Promise<Record<string, number | string>> {
  const closeMs: number[] = [];
  const ours: Subject = {
    label: 'sim board start (startSimBoard)',
    run: async () => {
      const startedAt = performance.now();
      const board = await startSimBoard({ profile: 'ec200u' });
      const bootedAt = performance.now();
      await board.close();
      closeMs.push(performance.now() - bootedAt);
      return bootedAt - startedAt;
    },
  };
  const floor: Subject = { label: 'worker loading the plain MicroPython VM (floor)', run: plainVmWorkerMs };
  const rows = comparisonRows(ours, floor, await alternate(ours, floor, SAMPLES));
  return { ...rows, 'sim board close': formatSpread(spreadOf(closeMs.slice(1))), 'sim samples (each side)': SAMPLES };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchSim().then(
    (result) => {
      for (const [label, value] of Object.entries(result)) process.stdout.write(`  ${label.padEnd(58)} ${value}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`bench sim: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 3;
    },
  );
}
