import { pathToFileURL } from 'node:url';
import { ReplChannel } from '../channel/repl/repl.js';
import { SerialLink } from '../link/serial.js';
import { startSimBoard } from '../sim/board.js';
import { servePty } from '../sim/serve.js';
import { median, percentile, round } from './stats.js';

/** exec("print(1)") round trip over a real socat pseudo-terminal to a simulated board's REPL. */
export async function benchRepl(rounds = 200): Promise<Record<string, number | string>> {
  const board = await startSimBoard({ profile: 'ec200u' });
  const served = await servePty(board);
  const link = await SerialLink.open(served.ports.repl);
  const repl = new ReplChannel(link);
  try {
    await repl.exec('print(1)');
    const samplesMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const startedAt = performance.now();
      const { stdout } = await repl.exec('print(1)');
      samplesMs.push(performance.now() - startedAt);
      if (stdout !== '1\n') throw new Error(`unexpected output ${JSON.stringify(stdout)}`);
    }
    return {
      'repl exec("print(1)") over PTY, median ms': round(median(samplesMs)),
      'repl exec("print(1)") over PTY, p99 ms': round(percentile(samplesMs, 99)),
      'repl exec rounds': rounds,
      'repl mode': repl.mode ?? 'unknown',
    };
  } finally {
    await repl.close();
    await served.close();
    await board.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchRepl());
}
