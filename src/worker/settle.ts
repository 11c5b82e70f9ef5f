import type pg from 'pg';
import { type AqeventError, fromPgError } from '../errors.js';
import { retryTransient } from '../live/backoff.js';
import { releaseEvents } from '../sql/leases.js';
import { ackEvents, nackEvents } from '../sql/settle.js';

/**
 * Runs step until it succeeds. Transient failures (lost connection, server
 * restart) are reported and retried with backoff until deadlineMs has
 * passed; after that, or on any other error (reported too), it gives up and
 * returns false: the events concerned then come back when their lease ends,
 * as after a crash.
 */
export async function persist(step: () => Promise<unknown>, deadlineMs: number, maxDelayMs: number, report: (error: AqeventError) => void): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  try {
    let done = false;
    await retryTransient(async () => {
      await step();
      done = true;
    }, { maxDelayMs, onError: report, giveUp: (_attempt, delay) => Date.now() + delay > deadline });
    return done;
  } catch (error) {
    report(fromPgError(error));
    return false;
  }
}

/** Collects ids while a statement is under way and sends them together in the next one. */
class Coalescer {
  private pending: Array<{ id: string; done: (ok: boolean) => void }> = [];
  private flushing = false;

  constructor(private readonly send: (ids: string[]) => Promise<boolean>) {}

  add(ids: string[]): Promise<boolean> {
    const settled = Promise.all(ids.map((id) => new Promise<boolean>((done) => this.pending.push({ id, done }))));
    if (!this.flushing) void this.flush();
    return settled.then((results) => results.every(Boolean));
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const ok = await this.send(batch.map((entry) => entry.id));
      batch.forEach((entry) => entry.done(ok));
    }
    this.flushing = false;
  }
}

/** Acks, nacks and releases of one worker, each retried through connection loss for up to a lease. */
export class Settler {
  private readonly acks: Coalescer;
  private readonly releases: Coalescer;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sessionId: string,
    private readonly retryForMs: number,
    private readonly maxDelayMs: number,
    private readonly report: (error: AqeventError) => void,
  ) {
    this.acks = new Coalescer((ids) => this.persist(() => ackEvents(pool, sessionId, ids)));
    this.releases = new Coalescer((ids) => this.persist(() => releaseEvents(pool, sessionId, ids)));
  }

  ack(id: string): Promise<boolean> {
    return this.acks.add([id]);
  }

  release(ids: string[]): Promise<boolean> {
    return ids.length === 0 ? Promise.resolve(true) : this.releases.add(ids);
  }

  nack(id: string, delayMs: number, error: string): Promise<boolean> {
    return this.persist(() => nackEvents(this.pool, this.sessionId, [id], delayMs, error));
  }

  private persist(step: () => Promise<unknown>): Promise<boolean> {
    return persist(step, this.retryForMs, this.maxDelayMs, this.report);
  }
}
