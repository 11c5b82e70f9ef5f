import type pg from 'pg';
import { z } from 'zod';
import { ackEvents } from '../ack-events.js';
import { asRole } from '../as-role.js';
import { readJson } from '../body.js';
import type { RequestContext, Route } from '../context.js';
import { EventStream } from '../event-streams.js';
import { httpError, sendJson } from '../http-error.js';
import { eventIdSchema, parseBody, pathUuid } from '../input.js';
import { startSse } from '../sse.js';

const PAGE = 10000;

/** Pending event ids of the session up to lastId, in id order (read without leasing). */
async function pendingThrough(client: pg.PoolClient, sessionId: string, lastId: bigint): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const { rows }: { rows: Array<{ id: string }> } = await client.query(
      'SELECT id::text AS id FROM event.peek($1, $2, $3::bigint) WHERE id <= $4::bigint', [sessionId, PAGE, after, lastId.toString()]);
    ids.push(...rows.map((row) => row.id));
    if (rows.length < PAGE) return ids;
    after = rows.at(-1)!.id;
  }
}

function lastEventId(context: RequestContext): bigint | undefined {
  const header = context.req.headers['last-event-id'];
  if (header === undefined || header === '') return undefined;
  if (typeof header !== 'string' || !/^\d{1,19}$/.test(header.trim())) throw httpError(400, `Last-Event-ID "${String(header)}" is not an event id`);
  return BigInt(header.trim());
}

/**
 * GET /sessions/:id/events: text/event-stream, the pending events and then
 * live ones. Last-Event-ID acknowledges what was sent up to that event (see
 * docs/http.md); with ?ack=manual it only skips those.
 */
export const streamEvents: Route = async (context) => {
  const { url, pool, params, streams, res } = context;
  const sessionId = pathUuid(params.id, 'session');
  const ackMode = url.searchParams.get('ack') ?? 'auto';
  if (ackMode !== 'auto' && ackMode !== 'manual') throw httpError(400, `ack must be "auto" or "manual", not "${ackMode}"`);
  const last = lastEventId(context);
  const identity = await context.identity();
  const delivered = await asRole(pool, identity, async (client) => {
    await client.query('SELECT event.session_attach($1)', [sessionId]);
    if (last === undefined) return [];
    const through = streams.sentThrough(sessionId, last.toString()) ?? await pendingThrough(client, sessionId, last);
    if (ackMode === 'auto') await ackEvents(client, sessionId, through);
    return through;
  });
  const stream = new EventStream(res, sessionId, identity);
  if (ackMode === 'auto') {
    streams.forget(sessionId, delivered);
  } else {
    for (const id of delivered) stream.sent.add(id);
    stream.order.push(...delivered);
  }
  startSse(res, {}, context.retryMs);
  await streams.add(stream).catch((error: unknown) => {
    streams.remove(stream);
    throw error;
  });
};

const ackSchema = z.object({ ids: z.array(eventIdSchema).max(100000) }).strict();

/** POST /sessions/:id/ack { ids } → 200 { acknowledged }. */
export const ackRoute: Route = async ({ req, res, pool, identity, params, streams }) => {
  const sessionId = pathUuid(params.id, 'session');
  const { ids } = parseBody(ackSchema, await readJson(req), 'ack');
  const acknowledged = await asRole(pool, await identity(), (client) => ackEvents(client, sessionId, ids));
  streams.forget(sessionId, ids);
  sendJson(res, 200, { acknowledged });
};
