import { type DeliveredEvent, type FetchedRow, toDeliveredEvent, withStoredText } from '../events/schema.js';
import { query, type Queryable } from './query.js';

/** A queued event seen without leasing it: attempts so far, and until when it is leased (null: deliverable). */
export type PeekedEvent = DeliveredEvent & { readonly leasedUntil: Date | null };

/** Up to max queued events after afterId, in id order, read only (event.peek): no lease, no attempt counted. */
export async function peekEvents(db: Queryable, sessionId: string, max: number, afterId: string | null): Promise<PeekedEvent[]> {
  const rows = await query<FetchedRow & { visible_at: Date | null }>(db, 'peek',
    'SELECT id::text AS id, attempts, visible_at, event::text AS event FROM event.peek($1, $2, $3::bigint)',
    [sessionId, max, afterId]);
  const now = Date.now();
  return rows.map((row) => {
    const event = toDeliveredEvent(row);
    const leasedUntil = row.visible_at !== null && row.visible_at.getTime() > now ? row.visible_at : null;
    return withStoredText({ ...event, leasedUntil }, row.event);
  });
}
