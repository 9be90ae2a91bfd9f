/**
 * At most `size` holders at once; waiters are served in the order they asked. A wait ends without a
 * slot (`granted: false`, a release that does nothing) when its signal aborts or after `maxWaitMs`;
 * an ended wait leaves the queue. The run's simulated boots and the boards' timing turns use one each.
 */
export class Gate {
  private busy = 0;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`gate: expected a whole number of slots, 1 or more, got ${size}`);
  }

  /** Holders now, and waiters. */
  get state(): { busy: number; waiting: number } {
    return { busy: this.busy, waiting: this.waiting.length };
  }

  /** A slot's release (call it once; later calls do nothing) and whether a slot was had at all. */
  async acquire(signal?: AbortSignal, maxWaitMs = Infinity): Promise<{ granted: boolean; release: () => void }> {
    const none = { granted: false, release: () => undefined };
    if (signal?.aborted) return none;
    if (this.busy < this.size) {
      this.busy++;
      return { granted: true, release: this.releaser() };
    }
    if (maxWaitMs <= 0) return none;
    return new Promise((resolve) => {
      const end = (outcome: { granted: boolean; release: () => void }): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve(outcome);
      };
      // A freed slot passes straight to the first waiter: busy stays as it is.
      const waiter = { grant: () => end({ granted: true, release: this.releaser() }) };
      const onAbort = (): void => end(none);
      const timer = Number.isFinite(maxWaitMs) ? setTimeout(onAbort, maxWaitMs) : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting[0];
      if (next) next.grant();
      else this.busy--;
    };
  }
}
