import { availableParallelism } from 'node:os';

/**
 * Turns at timing host instants, shared by every board of a process. A timed exchange (a byte out,
 * a line back, both stamped with host time) is only as narrow as the event loop is quick to see its
 * line; when a rig's 32 boards time their edges in the same second, each one's lines wait behind the
 * others' (and, for the sim, their VMs take the cores), and every bound widens together: closed-loop
 * exchanges fed each other until most ran to their cap. Taking turns, at most `slots` boards time at
 * once, each for the few tens of ms its exchanges need while the host is free for them.
 *
 * A turn is waited for at most `maxWaitMs`: a board that cannot get one in time times without one
 * (its bounds are as wide as the load makes them, still true), so a queue can delay a reading but
 * never stop it. An aborted wait leaves the queue.
 */
export class TimingSlots {
  private busy = 0;
  private readonly queue: Array<{ grant: () => void }> = [];

  constructor(readonly slots: number) {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`timing slots: expected a whole number, 1 or more, got ${slots}`);
  }

  /** Boards timing now, and boards waiting for a turn. */
  get state(): { busy: number; waiting: number } {
    return { busy: this.busy, waiting: this.queue.length };
  }

  /**
   * Resolves with `release` (call it once, when the timed part is over) when a turn is free, or
   * after `maxWaitMs` with a release that does nothing and `turn: false`. Rejects if `signal` aborts.
   */
  async acquire(maxWaitMs: number, signal?: AbortSignal): Promise<{ turn: boolean; release: () => void }> {
    signal?.throwIfAborted();
    if (this.busy < this.slots) {
      this.busy++;
      return { turn: true, release: this.releaser() };
    }
    if (maxWaitMs <= 0) return { turn: false, release: () => undefined };
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
      };
      // A freed turn passes straight to the first waiter: busy stays as it is.
      const waiter = {
        grant: () => {
          done();
          resolve({ turn: true, release: this.releaser() });
        },
      };
      const timer = setTimeout(() => {
        done();
        resolve({ turn: false, release: () => undefined });
      }, maxWaitMs);
      const onAbort = (): void => {
        done();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue[0];
      if (next) next.grant();
      else this.busy--;
    };
  }
}

/** The process's turns: one per core the process may use (2 on a 2-core rig host). */
export const timingSlots = new TimingSlots(Math.max(1, availableParallelism()));
