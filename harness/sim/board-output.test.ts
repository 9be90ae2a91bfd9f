import { describe, expect, it } from 'vitest';
import { BoardOutput } from './board-output.js';
import type { FromBoard } from './protocol.js';

function output(slowOutputMs = 0): { out: BoardOutput; sent: FromBoard[]; faults: { slowOutputMs: number } } {
  const sent: FromBoard[] = [];
  const faults = { slowOutputMs };
  return { out: new BoardOutput(faults, (message) => sent.push(message)), sent, faults };
}

const text = (sent: FromBoard[]): string[] =>
  sent.flatMap((message) => (message.type === 'output' ? [`${message.port}:${Buffer.from(message.bytes).toString('latin1')}`] : []));

describe('BoardOutput', () => {
  it('sends nothing while the ports are down or the board is closing, and says when they change', () => {
    const { out, sent } = output();
    out.emit('repl', 'lost');
    out.setPortsUp(true);
    out.setPortsUp(true);
    out.emit('repl', 'a');
    out.emit('at', 'b');
    out.close();
    out.emit('repl', 'after close');
    out.setPortsUp(true);
    expect(sent.filter((message) => message.type === 'port').length).toBe(6);
    expect(text(sent)).toEqual(['repl:a', 'at:b']);
    expect(out.closed).toBe(true);
  });

  it('keeps the order under slow-output and drops what is queued when the ports go', async () => {
    const { out, sent, faults } = output(1);
    out.setPortsUp(true);
    out.emit('repl', '1');
    out.emit('at', '2');
    faults.slowOutputMs = 0;
    // Still queued behind the slow chunks: it must not overtake them.
    out.emit('repl', '3');
    for (const endMs = performance.now() + 5000; text(sent).length < 3 && performance.now() < endMs; ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(text(sent)).toEqual(['repl:1', 'at:2', 'repl:3']);
    faults.slowOutputMs = 20;
    out.emit('repl', 'dropped');
    out.setPortsUp(false);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(text(sent)).toEqual(['repl:1', 'at:2', 'repl:3']);
  });

  it('garbles each port with a stream of its own, and stops when the rate is 0', () => {
    const { out, sent } = output();
    out.setPortsUp(true);
    out.setGarble(0.5, 'replace', 7);
    const bytes = 'x'.repeat(64);
    out.emit('repl', bytes);
    out.emit('at', bytes);
    out.setGarble(0, 'replace', 7);
    out.emit('repl', bytes);
    const [repl, at, clean] = text(sent);
    expect(repl).not.toBe(`repl:${bytes}`);
    expect(repl?.slice(5)).not.toBe(at?.slice(3));
    expect(clean).toBe(`repl:${bytes}`);
  });
});
