import type { DeliveredEvent } from '../events/schema.js';

/**
 * Per-row ordering of the events a worker holds. Events of one row (same
 * row_id) run one after the other in the order they were scheduled (id
 * order within a fetch); events of different rows run in parallel. A
 * truncate concerns every row of its table, so it is a barrier: it waits for
 * everything scheduled before it, and everything scheduled after it waits
 * for it. An event without a row (a table without a primary key) has no one
 * to keep order with.
 *
 * A task resolves true when its event was handled successfully. A task
 * whose predecessors did not all succeed is told so (ok = false): the event
 * must not run now, or it would overtake the retry of an earlier change.
 */
export class RowLanes {
  private tails = new Map<string, Promise<boolean>>();
  private barrier: Promise<boolean> = Promise.resolve(true);

  schedule(event: DeliveredEvent, run: (ok: boolean) => Promise<boolean>): Promise<boolean> {
    if (event.operation === 'truncate') {
      const before = [this.barrier, ...this.tails.values()];
      const task = Promise.all(before).then((results) => run(results.every(Boolean)));
      this.barrier = task;
      this.tails.clear(); // whatever comes next waits for the barrier, which waited for them
      return task;
    }
    const key = event.row_id === null ? undefined : JSON.stringify(event.row_id);
    const previous = key === undefined ? undefined : this.tails.get(key);
    const task = Promise.all([this.barrier, previous ?? true]).then(([a, b]) => run(a && b));
    if (key !== undefined) {
      this.tails.set(key, task);
      void task.then(() => {
        if (this.tails.get(key) === task) this.tails.delete(key);
      });
    }
    return task;
  }
}
