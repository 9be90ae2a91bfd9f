import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveBoardProfile } from '../board.js';
import { ModemModel } from '../modem.js';
import type { AtServices } from './interpreter.js';
import { createAtPort } from './port.js';

const NO_NTP: AtServices = { ntpQueryUtcMs: () => Promise.reject(new Error('no NTP here')) };

/** Lets queued promise callbacks run, and nothing else: a timer, even of 0 ms, does not fire. */
async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
}

describe('sim AT port delays', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers a command whose profile delay is 0 without a timer (benches measure the harness, not setTimeout)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'] });
    const chunks: string[] = [];
    const modem = new ModemModel({ ...resolveBoardProfile('ec200u'), atDelays: { AT: 0 } });
    const port = createAtPort(modem, (bytes) => chunks.push(bytes.toString('latin1')), NO_NTP);
    port.receive(Buffer.from('AT\r'));
    await flushMicrotasks();
    expect(chunks.join('')).toBe('AT\r\r\nOK\r\n');
    port.dispose();
  });

  it('still waits for a delay above 0', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'] });
    const chunks: string[] = [];
    const modem = new ModemModel({ ...resolveBoardProfile('ec200u'), atDelays: { AT: 50 } });
    const port = createAtPort(modem, (bytes) => chunks.push(bytes.toString('latin1')), NO_NTP);
    port.receive(Buffer.from('AT\r'));
    await flushMicrotasks();
    expect(chunks.join('')).toBe('AT\r');
    await vi.advanceTimersByTimeAsync(50);
    expect(chunks.join('')).toBe('AT\r\r\nOK\r\n');
    port.dispose();
  });
});
