import { describe, expect, it } from 'vitest';
import { readPortStdin, type PortStdinHooks } from './port-stdin.js';

/** A REPL queue, a port with messages still queued, and a board worker that answers the bridge from a script. */
function fakeHooks(options: {
  queued?: string;
  pending?: string[];
  answers?: Array<{ v: string } | { i: 1 }>;
  /** Input messages the board worker posts after it sent an answer, before this thread wakes. */
  sentAfterAnswer?: string[];
  interruptChar?: number;
}) {
  const queue = [...Buffer.from(options.queued ?? '', 'latin1')];
  const pending = [...(options.pending ?? [])];
  const answers = [...(options.answers ?? [])];
  const log = { bridgeCalls: 0, interrupts: 0 };
  const hooks: PortStdinHooks = {
    takeQueued: (max) => queue.splice(0, max),
    queue: (bytes) => queue.push(...bytes),
    absorbPending: () => {
      for (const text of pending.splice(0)) queue.push(...Buffer.from(text, 'latin1'));
    },
    bridge: (name) => {
      expect(name).toBe('stdin');
      log.bridgeCalls += 1;
      pending.push(...(options.sentAfterAnswer?.splice(0) ?? []));
      return JSON.stringify(answers.shift() ?? { v: '' });
    },
    seenInputSeq: () => 0,
    interruptChar: () => options.interruptChar ?? 3,
    scheduleKeyboardInterrupt: () => void (log.interrupts += 1),
  };
  const read = (length: number): string => {
    const buffer = new Uint8Array(length);
    const n = readPortStdin(hooks, buffer, 0, length);
    return Buffer.from(buffer.subarray(0, n)).toString('latin1');
  };
  return { read, log, queue };
}

describe('readPortStdin (fd 0 of the VM)', () => {
  it('reads in arrival order: the REPL queue, then queued messages, then the board worker; the rest stays', () => {
    const fake = fakeHooks({ queued: 'ab', pending: ['cd'], answers: [{ v: 'efgh' }] });
    expect(fake.read(3)).toBe('ab');
    expect(fake.read(3)).toBe('cd');
    expect(fake.log.bridgeCalls).toBe(0);
    expect(fake.read(3)).toBe('efg');
    expect(fake.log.bridgeCalls).toBe(1);
    expect(Buffer.from(fake.queue).toString()).toBe('h');
  });

  it('asks again after an empty answer, and takes messages that came before the answer first', () => {
    const fake = fakeHooks({ answers: [{ v: '' }, { v: 'late' }] });
    expect(fake.read(10)).toBe('late');
    expect(fake.log.bridgeCalls).toBe(2);
  });

  it('keeps host order when more bytes arrive while the thread wakes to an answer (mount: a length, then its data)', () => {
    const fake = fakeHooks({ answers: [{ v: '3\x00\x00\x00' }], sentAfterAnswer: ['abc'] });
    expect(fake.read(4)).toBe('3\x00\x00\x00');
    expect(fake.read(4)).toBe('abc');
    expect(fake.log.bridgeCalls).toBe(1);
  });

  it('a Ctrl-C ends the read with KeyboardInterrupt, unless kbd_intr is off', () => {
    const interrupted = fakeHooks({ answers: [{ i: 1 }] });
    expect(interrupted.read(4)).toBe('');
    expect(interrupted.log.interrupts).toBe(1);
    const typed = fakeHooks({ queued: 'x\x03y' });
    expect(typed.read(4)).toBe('x');
    expect(typed.log.interrupts).toBe(1);
    const data = fakeHooks({ queued: 'x\x03y', interruptChar: -1 });
    expect(data.read(4)).toBe('x\x03y');
    expect(data.log.interrupts).toBe(0);
  });
});
