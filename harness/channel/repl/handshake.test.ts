import { afterEach, describe, expect, it, vi } from 'vitest';
import { replResponder } from '../../testing/minimal-peers.js';
import { memoryLinkPair } from '../../link/memory.js';
import { ReplChannel } from './repl.js';

/**
 * The handshake waits for what the protocol says (the raw prompt, the raw-paste answer, the frame's
 * end), never for the board to be quiet: with timers frozen, an exec to a board that answers at once
 * still completes. A fixed quiet wait (`drain(60)`) would never end here.
 */
describe('REPL handshake', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('enters raw mode and runs the first exec without waiting on any timer', async () => {
    // Real time, taken before the timers freeze: a hung handshake fails in 10 s rather than at the test timeout.
    const realSetTimeout = globalThis.setTimeout;
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    const pair = memoryLinkPair('handshake');
    const respond = replResponder((text) => void pair.board.write(Buffer.from(text, 'latin1')));
    pair.board.onData((bytes) => respond(Buffer.from(bytes).toString('latin1')));
    const repl = new ReplChannel(pair.host);
    const hung = new Promise<never>((_, reject) => realSetTimeout(() => reject(new Error('the handshake waited on a timer')), 10_000));
    const result = await Promise.race([repl.exec('print(1)', { timeoutMs: 5000 }), hung]);
    expect(result).toMatchObject({ stdout: '1\n', mode: 'raw-paste' });
    await repl.close();
  });
});
