/**
 * A bench rig's boards, powered on before the run: N simulated boards in this process, each served on
 * TCP (ser2net's raw serial, as a rig's network-attached boards are), so the harness under test opens
 * them through `tcp://` ports from another process, as it opens a rig's. Started by bench/rig.ts:
 * `node rig-boards.js <count> <profile> <hosts-json>`. Prints one JSON line per board (`{"repl", "at"}`)
 * once every board is up, then `ready`; closes every board when its standard input ends.
 */
import { availableParallelism } from 'node:os';
import { serveTcp } from '../sim/serve.js';
import { startSimBoard, type SimBoard } from '../sim/board.js';
import type { ServedBoard } from '../sim/serve.js';

/** Boards booting at once: the runner's own default for simulated boards (run.ts). */
const BOOTS_AT_ONCE = Math.max(2, 2 * availableParallelism());

/** A close that hangs must not keep the process: a board's close has deadlines, this is the last word. */
const CLOSE_LIMIT_MS = 15_000;

const boards: SimBoard[] = [];
const served: ServedBoard[] = [];

/** Closes every board started so far, its TCP ports first. */
async function closeAll(): Promise<void> {
  await Promise.allSettled(served.map((s) => s.close()));
  await Promise.allSettled(boards.map((b) => b.close()));
}

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  const profile = process.argv[3];
  const hosts = JSON.parse(process.argv[4] ?? '{}') as Record<string, string>;
  if (!Number.isInteger(count) || count < 1 || !profile) throw new Error('usage: rig-boards.js <count> <profile> <hosts-json>');
  // The bench ends its standard input when done, or by dying: either way every board closes (its temp folder too).
  process.stdin.on('end', () => void closeAll().then(() => process.exit(0)));
  process.stdin.resume();
  let next = 0;
  const ports: ServedBoard['ports'][] = [];
  await Promise.all(
    Array.from({ length: Math.min(BOOTS_AT_ONCE, count) }, async () => {
      while (next < count) {
        const index = next++;
        const board = await startSimBoard({ profile, hosts, name: `rig-${String(index + 1).padStart(3, '0')}` });
        boards.push(board);
        const serving = await serveTcp(board);
        served.push(serving);
        ports[index] = serving.ports;
      }
    }),
  );
  for (const port of ports) process.stdout.write(`${JSON.stringify(port)}\n`);
  process.stdout.write('ready\n');
}

main().catch(async (error: unknown) => {
  process.stderr.write(`rig-boards: ${error instanceof Error ? error.message : String(error)}\n`);
  setTimeout(() => process.exit(3), CLOSE_LIMIT_MS).unref();
  await closeAll();
  process.exit(3);
});
