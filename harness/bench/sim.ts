import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { startSimBoard } from '../sim/board.js';
import { alternate, comparisonRows, formatSpread, spreadOf, type Subject } from './compare.js';

const SAMPLES = 10;
const VM_READY_DEADLINE_MS = 30_000;
/** Boards booted for the CPU figure, and how many at once (the runner's default on 2 cores). */
const BOOT_BOARDS = 16;
const BOOTS_AT_ONCE = 4;

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
 * The CPU a board's boot costs, every thread of this process together (main, board hosts, VM
 * threads): BOOT_BOARDS boards booting BOOTS_AT_ONCE at a time, after one that warms the process up.
 */
async function bootCpuPerBoardMs(): Promise<{ cpuMs: number; wallMs: number }> {
  await (await startSimBoard({ profile: 'ec200u-realistic' })).close();
  const boards: Awaited<ReturnType<typeof startSimBoard>>[] = [];
  const cpu0 = process.cpuUsage();
  const startedAt = performance.now();
  let started = 0;
  await Promise.all(
    Array.from({ length: BOOTS_AT_ONCE }, async () => {
      while (started < BOOT_BOARDS) {
        started += 1;
        boards.push(await startSimBoard({ profile: 'ec200u-realistic' }));
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - startedAt;
  await Promise.all(boards.map((board) => board.close()));
  return { cpuMs: (cpu.user + cpu.system) / 1000 / BOOT_BOARDS, wallMs };
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
  const boot = await bootCpuPerBoardMs();
  return {
    ...rows,
    'sim board close': formatSpread(spreadOf(closeMs.slice(1))),
    'sim samples (each side)': SAMPLES,
    [`boot CPU per board, every thread, ms (${BOOT_BOARDS} boards, ${BOOTS_AT_ONCE} at once)`]: Math.round(boot.cpuMs),
    [`boot wall for ${BOOT_BOARDS} boards, ms`]: Math.round(boot.wallMs),
  };
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
