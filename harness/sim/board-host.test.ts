/**
 * Boards that share a board host (worker.ts, board-host.ts) stay independent. There is at most one host
 * per core, so with one board more than cores at least two of them share one.
 * The board's workers run from dist/ (see board.ts): `npm test` builds first.
 */
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../channel/receiver.js';
import type { SimBoard } from './board.js';
import { resolveBoardProfile } from './board.js';
import { limits, RawPeer, SimFixtures } from '../testing/sim-board.js';

const fixtures = new SimFixtures();
afterEach(() => fixtures.cleanup());

async function atAnswer(board: SimBoard, command: string): Promise<string> {
  const at = new Receiver(board.hostLink('at'));
  await board.hostLink('at').write(Buffer.from(`${command}\r`));
  return (await at.waitFor(/\r\n(OK|ERROR|\+CME ERROR: [^\r]*)\r\n/, limits(command))).text;
}

describe('simulated boards sharing a board host', () => {
  it("one board's fault, hard reboot and close leave the others' Python state and modem as they were", async () => {
    const count = availableParallelism() + 1;
    const profile = { ...resolveBoardProfile('ec200u'), rebootDelay: 200 };
    const boards = await Promise.all(Array.from({ length: count }, () => fixtures.board({ profile })));
    const peers = boards.map((board) => new RawPeer(board.hostLink('repl')));
    await Promise.all(peers.map((peer) => peer.enterRaw()));
    await Promise.all(peers.map((peer, i) => peer.exec(`x = ${i}\nimport utime`)));

    const [first, ...others] = boards;
    if (!first) throw new Error('no board');
    await first.control.setFault('no-sim');
    await first.control.reboot('hard');
    await first.waitForPort('repl', false, 5000);
    for (const [i, peer] of peers.entries()) {
      if (i === 0) continue;
      expect((await peer.exec('print(x)')).stdout).toBe(`${i}\n`);
    }
    for (const board of others) expect(await atAnswer(board, 'AT+CPIN?')).toContain('+CPIN: READY');

    // The rebooted board comes back with a fresh Python.
    await first.waitForPort('repl', true, 5000);
    await first.waitForPort('at', true, 5000);
    await new Receiver(first.hostLink('at')).waitFor('RDY', limits('RDY after the reboot'));
    const again = new RawPeer(first.hostLink('repl'));
    await again.enterRaw();
    expect((await again.exec('print(x)')).stderr).toContain('NameError');

    await first.close();
    for (const [i, peer] of peers.entries()) {
      if (i === 0) continue;
      expect((await peer.exec('print(x, utime.ticks_ms() >= 0)')).stdout).toBe(`${i} True\n`);
    }
  });
});
