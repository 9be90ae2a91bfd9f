import { describe, expect, it } from 'vitest';
import { ReplStdin, STDIN_ANSWER_MAX_BYTES } from './repl-stdin.js';

describe('ReplStdin (the board side of Python reading the REPL port)', () => {
  it('hands the next host bytes to a waiting read, and nothing when nobody waits', async () => {
    const stdin = new ReplStdin();
    expect(stdin.offer(Buffer.from('early')).toString()).toBe('early');
    const read = stdin.call('stdin', [5000], new AbortController().signal);
    expect(stdin.offer(Buffer.from('ab\x03c')).length).toBe(0);
    expect(await read).toBe('ab\x03c');
    expect(stdin.offer(Buffer.from('late')).toString()).toBe('late');
  });

  it('answers empty at its limit and when aborted (a Ctrl-C interrupts the read)', async () => {
    const stdin = new ReplStdin();
    expect(await stdin.call('stdin', [10], new AbortController().signal)).toBe('');
    const abort = new AbortController();
    const read = stdin.call('stdin', [60_000], abort.signal);
    abort.abort();
    expect(await read).toBe('');
    expect(stdin.offer(Buffer.from('x')).toString()).toBe('x');
  });

  it('caps one answer; the rest goes on as ordinary input', async () => {
    const stdin = new ReplStdin();
    const read = stdin.call('stdin', [5000], new AbortController().signal);
    const rest = stdin.offer(Buffer.alloc(STDIN_ANSWER_MAX_BYTES + 3, 0x41));
    expect((await read)?.length).toBe(STDIN_ANSWER_MAX_BYTES);
    expect(rest.length).toBe(3);
  });

  it('answers at once when input the VM has not seen yet is on its way there', async () => {
    const stdin = new ReplStdin();
    expect(await stdin.call('stdin', [60_000, 4], new AbortController().signal, 5)).toBe('');
    const read = stdin.call('stdin', [5000, 5], new AbortController().signal, 5);
    stdin.offer(Buffer.from('next'));
    expect(await read).toBe('next');
  });

  it('treats Ctrl-C as data while kbd_intr is off, until Python is back at the prompt', async () => {
    const stdin = new ReplStdin();
    expect(stdin.ctrlCIsData).toBe(false);
    await stdin.call('kbd_intr', [-1], new AbortController().signal);
    expect(stdin.ctrlCIsData).toBe(true);
    stdin.reset();
    expect(stdin.ctrlCIsData).toBe(false);
  });
});
