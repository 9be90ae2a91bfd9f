import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimingSlots } from './timing-slots.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('TimingSlots', () => {
  it('gives at most `slots` turns at once, the next in order of asking as each is released', async () => {
    const slots = new TimingSlots(2);
    const a = await slots.acquire(1000);
    const b = await slots.acquire(1000);
    expect([a.turn, b.turn]).toEqual([true, true]);
    const order: string[] = [];
    const c = slots.acquire(1000).then((t) => (order.push('c'), t));
    const d = slots.acquire(1000).then((t) => (order.push('d'), t));
    await Promise.resolve();
    expect(slots.state).toEqual({ busy: 2, waiting: 2 });
    expect(order).toEqual([]);
    b.release();
    const cTurn = await c;
    expect(cTurn.turn).toBe(true);
    expect(order).toEqual(['c']);
    expect(slots.state).toEqual({ busy: 2, waiting: 1 });
    // A second release of the same turn frees nothing more.
    b.release();
    expect(slots.state).toEqual({ busy: 2, waiting: 1 });
    a.release();
    expect((await d).turn).toBe(true);
    cTurn.release();
    (await d).release();
    expect(slots.state).toEqual({ busy: 0, waiting: 0 });
  });

  it('stops waiting after maxWaitMs: the caller goes on without a turn, and its release frees nothing', async () => {
    vi.useFakeTimers();
    const slots = new TimingSlots(1);
    const held = await slots.acquire(0);
    const late = slots.acquire(300);
    await vi.advanceTimersByTimeAsync(299);
    expect(slots.state.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const without = await late;
    expect(without.turn).toBe(false);
    expect(slots.state).toEqual({ busy: 1, waiting: 0 });
    without.release();
    expect(slots.state.busy).toBe(1);
    // No time left to wait: no turn, at once.
    expect((await slots.acquire(0)).turn).toBe(false);
    held.release();
    expect(slots.state.busy).toBe(0);
  });

  it('an aborted wait rejects with the reason and leaves the queue; the next waiter still gets the turn', async () => {
    const slots = new TimingSlots(1);
    const held = await slots.acquire(0);
    const controller = new AbortController();
    const aborted = slots.acquire(10_000, controller.signal);
    const next = slots.acquire(10_000);
    controller.abort(new Error('step cancelled'));
    await expect(aborted).rejects.toThrow('step cancelled');
    expect(slots.state).toEqual({ busy: 1, waiting: 1 });
    held.release();
    expect((await next).turn).toBe(true);
    await expect(slots.acquire(0, controller.signal)).rejects.toThrow('step cancelled');
  });

  it('refuses a count that is not a whole number of 1 or more', () => {
    expect(() => new TimingSlots(0)).toThrow(/whole number/);
    expect(() => new TimingSlots(1.5)).toThrow(/whole number/);
  });
});
