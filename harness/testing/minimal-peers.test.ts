import { describe, expect, it } from 'vitest';
import { AtChannel } from '../channel/at/channel.js';
import { ReplChannel } from '../channel/repl/repl.js';
import { memoryLinkPair } from '../link/memory.js';
import { atResponder, replResponder } from './minimal-peers.js';

/** A responder on the board end of a memory pair. */
function peer(make: (write: (text: string) => void) => (text: string) => void) {
  const pair = memoryLinkPair('bench-floor');
  const respond = make((text) => void pair.board.write(Buffer.from(text, 'latin1')));
  pair.board.onData((bytes) => respond(Buffer.from(bytes).toString('latin1')));
  return pair.host;
}

describe('minimal peers (the bench floors)', () => {
  it('the REPL responder is enough for ReplChannel.exec("print(1)") in raw-paste mode, again and again', async () => {
    const repl = new ReplChannel(peer(replResponder));
    for (let i = 0; i < 3; i += 1) expect((await repl.exec('print(1)', { timeoutMs: 5000 })).stdout).toBe('1\n');
    expect(repl.mode).toBe('raw-paste');
    await repl.close();
  });

  it('the REPL responder answers plain raw mode too', async () => {
    const repl = new ReplChannel(peer(replResponder), { avoid: ['raw-paste'] });
    expect((await repl.exec('print(1)', { timeoutMs: 5000 })).stdout).toBe('1\n');
    expect(repl.mode).toBe('raw');
    await repl.close();
  });

  it('the AT responder echoes and answers OK', async () => {
    const host = peer(atResponder);
    const channel = new AtChannel(host);
    await expect(channel.send('AT', { timeoutMs: 5000 })).resolves.toMatchObject({ final: 'OK' });
    await host.close();
  });
});
