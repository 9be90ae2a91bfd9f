import { afterEach, describe, expect, it, vi } from 'vitest';
import { Gate } from './gate.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Gate', () => {
  it('gives at most `size` slots at once, the next in order of asking as each is released', async () => {
    const gate = new Gate(2);
    const a = await gate.acquire();
    const b = await gate.acquire();
    expect([a.granted, b.granted]).toEqual([true, true]);
    const order: string[] = [];
    const c = gate.acquire().then((t) => (order.push('c'), t));
    const d = gate.acquire().then((t) => (order.push('d'), t));
    await Promise.resolve();
    expect(gate.state).toEqual({ busy: 2, waiting: 2 });
    expect(order).toEqual([]);
    b.release();
    const cSlot = await c;
    expect(cSlot.granted).toBe(true);
    expect(order).toEqual(['c']);
    expect(gate.state).toEqual({ busy: 2, waiting: 1 });
    // A second release of the same slot frees nothing more.
    b.release();
    expect(gate.state).toEqual({ busy: 2, waiting: 1 });
    a.release();
    expect((await d).granted).toBe(true);
    cSlot.release();
    (await d).release();
    expect(gate.state).toEqual({ busy: 0, waiting: 0 });
  });

  it('stops waiting after maxWaitMs: the caller goes on without a slot, and its release frees nothing', async () => {
    vi.useFakeTimers();
    const gate = new Gate(1);
    const held = await gate.acquire();
    const late = gate.acquire(undefined, 300);
    await vi.advanceTimersByTimeAsync(299);
    expect(gate.state.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const without = await late;
    expect(without.granted).toBe(false);
    expect(gate.state).toEqual({ busy: 1, waiting: 0 });
    without.release();
    expect(gate.state.busy).toBe(1);
    // No time left to wait: no slot, at once.
    expect((await gate.acquire(undefined, 0)).granted).toBe(false);
    held.release();
    expect(gate.state.busy).toBe(0);
  });

  it('an aborted wait ends without a slot and leaves the queue; the next waiter still gets the slot', async () => {
    const gate = new Gate(1);
    const held = await gate.acquire();
    const controller = new AbortController();
    const aborted = gate.acquire(controller.signal);
    const next = gate.acquire();
    controller.abort(new Error('step cancelled'));
    expect((await aborted).granted).toBe(false);
    expect(gate.state).toEqual({ busy: 1, waiting: 1 });
    held.release();
    expect((await next).granted).toBe(true);
    // Already aborted: no slot, even a free one.
    expect((await gate.acquire(controller.signal)).granted).toBe(false);
    expect(gate.state).toEqual({ busy: 1, waiting: 0 });
  });

  it('refuses a size that is not a whole number of 1 or more', () => {
    expect(() => new Gate(0)).toThrow(/whole number/);
    expect(() => new Gate(1.5)).toThrow(/whole number/);
  });
});
