import { pathToFileURL } from 'node:url';
import { ReplChannel } from '../channel/repl/repl.js';
import { SerialLink } from '../link/serial.js';
import { startSimBoard } from '../sim/board.js';
import { servePty } from '../sim/serve.js';
import { alternate, comparisonRows, type Subject } from './compare.js';
import { startFloor } from './floor.js';

/**
 * exec("print(1)") round trip through ReplChannel over a socat pseudo-terminal: to a simulated
 * board's REPL, and to a minimal raw-REPL responder (the floor: PTY + channel), rounds alternating.
 */
export async function benchRepl(rounds = 200): Promise<Record<string, number | string>> {
  const board = await startSimBoard({ profile: 'ec200u' });
  const served = await servePty(board);
  const floor = await startFloor('repl').catch(async (error: unknown) => {
    await served.close();
    await board.close();
    throw error;
  });
  let sim: ReplChannel | undefined;
  let minimal: ReplChannel | undefined;
  try {
    sim = new ReplChannel(await SerialLink.open(served.ports.repl));
    minimal = new ReplChannel(await SerialLink.open(floor.hostPath));
    const [simRepl, floorRepl] = [sim, minimal];
    const execMs = async (repl: ReplChannel): Promise<number> => {
      const startedAt = performance.now();
      const { stdout } = await repl.exec('print(1)', { timeoutMs: 5000 });
      const elapsedMs = performance.now() - startedAt;
      if (stdout !== '1\n') throw new Error(`${repl.port}: unexpected output ${JSON.stringify(stdout)}`);
      return elapsedMs;
    };
    // alternate's warm-up exec enters raw mode on each side: not a round trip.
    const ours: Subject = { label: 'repl exec("print(1)"), sim board over PTY', run: () => execMs(simRepl) };
    const anchor: Subject = { label: 'REPL: minimal responder over PTY (floor)', run: () => execMs(floorRepl) };
    return {
      ...comparisonRows(ours, anchor, await alternate(ours, anchor, rounds)),
      'repl exec rounds (each side)': rounds,
      'repl mode (sim / floor)': `${sim.mode ?? 'unknown'} / ${minimal.mode ?? 'unknown'}`,
    };
  } finally {
    await sim?.close();
    await minimal?.close();
    await floor.stop();
    await served.close();
    await board.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchRepl());
}
