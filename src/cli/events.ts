import { DateTime } from 'luxon';
import type { PeekedEvent } from '../delivery/operations.js';
import type { DeliveredEvent } from '../events/schema.js';
import type { Session } from '../session.js';
import { eventLine, out, toJson } from './format.js';

/** One event on stdout: its stored JSON (--json, one per line) or a line for people. */
export function printEvent(event: DeliveredEvent | PeekedEvent, json: boolean): void {
  out(json ? toJson(event) : eventLine(event));
}

/** Events at or after the cutoff (ms since the epoch), by their timestamp. */
export function newerThan(cutoffMs: number | undefined): (event: DeliveredEvent) => boolean {
  if (cutoffMs === undefined) return () => true;
  return (event) => DateTime.fromISO(event.timestamp).toMillis() >= cutoffMs;
}

const PAGE = 1000;

/**
 * Follows a session's queue without taking anything: each call returns the
 * queued events not returned before (up to about max), read with peek, so
 * no lease is taken and no attempt counted.
 *
 * It scans the queue from its head rather than from the highest id seen:
 * ids are drawn when a writer's statement runs but become visible at commit,
 * so an event can appear below ids already printed. Ids returned (or skipped
 * by the filter) are remembered while they are queued; a complete scan
 * forgets those that left the queue. The cost is a read of the session's
 * queue per wake-up, fine for watching; to consume a large backlog use --ack.
 */
export class QueueFollower {
  private readonly known = new Set<string>();
  private present = new Set<string>();
  private resumeAfter: string | undefined;

  constructor(
    private readonly session: Session,
    private readonly accept: (event: DeliveredEvent) => boolean,
  ) {}

  async next(max: number): Promise<PeekedEvent[]> {
    const fresh: PeekedEvent[] = [];
    let after = this.resumeAfter;
    if (after === undefined) this.present = new Set();
    for (;;) {
      const page = await this.session.peek({ max: PAGE, after });
      for (const event of page) {
        this.present.add(event.id);
        if (this.known.has(event.id)) continue;
        this.known.add(event.id);
        if (this.accept(event)) fresh.push(event);
      }
      if (page.length < PAGE) {
        for (const id of this.known) if (!this.present.has(id)) this.known.delete(id);
        this.resumeAfter = undefined;
        return fresh;
      }
      after = page.at(-1)!.id;
      if (fresh.length >= max) {
        this.resumeAfter = after;
        return fresh;
      }
    }
  }
}
