/** Small async primitives of the worker. */

/** Wakes everyone waiting when something changed (a settled event, stop). */
export class Changes {
  private waiters: Array<() => void> = [];

  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    this.waiters.splice(0).forEach((wake) => wake());
  }
}

/** At most `limit` holders at once; waiters are served first come, first served. */
export class Semaphore {
  private holders = 0;
  private waiters: Array<(granted: boolean) => void> = [];

  constructor(private readonly limit: number) {}

  /** Resolves true with a slot, or false when cancelled (the caller then holds nothing). */
  acquire(): Promise<boolean> {
    if (this.holders < this.limit) {
      this.holders++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next(true); // the slot passes on
    else this.holders--;
  }

  /** Turns every waiter away. */
  cancelWaiters(): void {
    this.waiters.splice(0).forEach((turnAway) => turnAway(false));
  }
}
