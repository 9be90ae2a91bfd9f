import { describe, expect, it } from 'vitest';
import { firstDeath, ReceiveStream } from './stream.js';

describe('ReceiveStream', () => {
  it('splits lines at \\r or \\n across chunks, keeps a partial line, counts bytes, decodes the tail only when shown', () => {
    const stream = new ReceiveStream();
    stream.push(Buffer.from('AT\r\r\nO'));
    stream.push(Buffer.from('K\r\n\xe4\xb8', 'latin1'));
    stream.push(Buffer.from([0xad]));
    expect([stream.takeLine(), stream.takeLine(), stream.takeLine(), stream.takeLine(), stream.takeLine()]).toEqual(['AT', '', '', 'OK', '']);
    expect(stream.takeLine()).toBeUndefined();
    expect(stream.buffer).toBe('\xe4\xb8\xad');
    expect(stream.received).toBe(12);
    expect(stream.shownTail()).toBe('AT\r\r\nOK\r\n中');
    expect(stream.take(2)).toBe('\xe4\xb8');
    expect(stream.buffer).toBe('\xad');
  });

  it('keeps only the last 400 bytes as its tail', () => {
    const stream = new ReceiveStream();
    stream.push(Buffer.alloc(1000, 'a'));
    stream.push(Buffer.from('end'));
    expect(stream.tail).toHaveLength(400);
    expect(stream.tail.endsWith('end')).toBe(true);
    expect(stream.shownTail(10)).toBe('aaaaaaaend');
  });
});

describe('firstDeath', () => {
  const deaths = [
    { marker: 'REPL refuse', error: () => new Error('refused') },
    { marker: /(?:^|\n)MPY: soft reboot\r?\n/, error: (buffer: string) => new Error(`rebooted after ${buffer.length} bytes`) },
  ];

  it('returns the first matching rule as its error, or undefined', () => {
    expect(firstDeath(deaths, 'ok so far')).toBeUndefined();
    expect(firstDeath(undefined, 'REPL refuse')).toBeUndefined();
    expect(firstDeath(deaths, 'x\r\nREPL refuse\r\n')?.message).toBe('refused');
    expect(firstDeath(deaths, 'out\r\nMPY: soft reboot\r\n')?.message).toBe('rebooted after 23 bytes');
    // Mid-line it is output, not the banner.
    expect(firstDeath(deaths, 'print("MPY: soft reboot")\r\n')).toBeUndefined();
  });
});
