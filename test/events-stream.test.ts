import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { Aqevent } from '../src/client.js';
import type { AqeventError } from '../src/errors.js';
import type { StreamOptions } from '../src/consumer/event-stream.js';
import type { DeliveredEvent } from '../src/events/schema.js';
import type { Session } from '../src/session.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { subscribedTable, terminate, urlWithApplicationName } from './support/delivery.js';
import { clearInbox } from './support/events.js';
import { eventually } from './support/roles.js';

let db: TestDatabase;
const clients: Aqevent[] = [];
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await db.drop();
});

/** Collects a session's events until `done` says so, or the deadline aborts the iteration. */
async function collect(session: Session, options: StreamOptions, done: (seen: DeliveredEvent[]) => boolean, ms = 15_000): Promise<DeliveredEvent[]> {
  const seen: DeliveredEvent[] = [];
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), ms);
  try {
    for await (const event of session.events({ ...options, signal: abort.signal })) {
      seen.push(event);
      if (done(seen)) break;
    }
  } finally {
    clearTimeout(deadline);
  }
  return seen;
}

/**
 * Commits an insert at the worst moments: right after the backlog fetch
 * came back empty (before the consumer starts waiting), and right before
 * the LISTEN of a (re)connect. The poll interval is an hour, so only the
 * LISTEN-then-fetch design can find them.
 */
test('backlog then live: events committed between the backlog drain and the wait are not missed', async () => {
  const { aq, session } = await subscribedTable(db, 'gap');
  clients.push(aq);
  await db.pool.query('INSERT INTO public.gap (id) SELECT generate_series(1, 250)');
  const pool = aq.pool as pg.Pool & { query: pg.Pool['query']; connect: pg.Pool['connect'] };
  const originalQuery = pool.query.bind(pool) as (...args: unknown[]) => Promise<pg.QueryResult>;
  const originalConnect = pool.connect.bind(pool) as (...args: unknown[]) => Promise<pg.PoolClient>;
  let connects = 0;
  let emptyFetches = 0;
  (pool as { connect: unknown }).connect = (...args: unknown[]) => {
    if (args.length > 0) return originalConnect(...args); // pool.query's own callback-style checkout
    return (async () => {
      if (connects++ === 0) await db.pool.query('INSERT INTO public.gap (id) VALUES (1001)'); // before the first LISTEN
      return originalConnect();
    })();
  };
  (pool as { query: unknown }).query = async (...args: unknown[]) => {
    const result = await originalQuery(...args);
    if (String(args[0]).includes('fetch_events') && result.rowCount === 0 && emptyFetches++ === 0) {
      await db.pool.query('INSERT INTO public.gap (id) VALUES (1002)'); // after the drain, before the wait
    }
    return result;
  };
  const seen = await collect(session, { pollInterval: '1h', batchSize: 100 },
    (events) => events.some((e) => e.payload?.id === 1002));
  const ids = seen.map((e) => e.payload?.id as number);
  assert.deepEqual(ids.slice(0, 251), [...Array.from({ length: 250 }, (_, i) => i + 1), 1001], 'backlog in order, then the early one');
  assert.equal(ids.at(-1), 1002);
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  const { rows } = await db.pool.query(
    'SELECT (event ->> \'id\')::bigint AS id, visible_at <= now() AS visible FROM event.pending_event WHERE session_id = $1', [session.id]);
  assert.deepEqual(rows, [{ id: seen.at(-1)!.id, visible: true }],
    'auto-ack acknowledged all but the event the loop left on, which is back in the queue');
});

test('the iterator survives pg_terminate_backend of its connections and loses nothing', async () => {
  await db.pool.query('CREATE TABLE public.reconnect (id int PRIMARY KEY, v int NOT NULL DEFAULT 0)');
  const applicationName = `aq_reconnect_${db.prefix}`.slice(0, 60);
  const aq = await Aqevent.connect({ connectionString: urlWithApplicationName(db.url, applicationName), poolSize: 4 });
  clients.push(aq);
  const session = await aq.createSession();
  await session.subscribeTable('public.reconnect');
  const errors: AqeventError[] = [];
  const abort = new AbortController();
  const iterator = session.events({ pollInterval: '200ms', onError: (error) => errors.push(error), signal: abort.signal });
  let next = 1;
  const insert = (count: number) => db.pool.query('INSERT INTO public.reconnect (id) SELECT generate_series($1::int, $2::int)', [next, (next += count) - 1]);
  const seen: number[] = [];
  const total = 60;
  const consumer = (async () => {
    for await (const event of iterator) {
      seen.push(event.payload?.id as number);
      if (new Set(seen).size >= total) {
        await session.ack(event); // leaving the loop returns the current event unless acknowledged
        break;
      }
    }
  })();
  const received = (count: number) => eventually(async () => (new Set(seen).size >= count ? true : undefined), `${count} events`, 20_000);
  const listening = () => eventually(async () => {
    const { rows } = await db.pool.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND (query LIKE 'LISTEN%' OR query LIKE '%event.listener_register()%')", [applicationName]);
    return rows.length > 0 ? true : undefined;
  }, 'a listening connection');
  try {
    await insert(20);
    await received(20);
    for (let round = 1; round <= 2; round++) {
      await listening();
      assert.ok(await terminate(db.pool, applicationName) >= 1, 'killed the consumer connections');
      await insert(20); // committed while the consumer is (probably) disconnected: its NOTIFY is lost
      await received(20 + 20 * round);
    }
    await consumer;
  } finally {
    abort.abort();
  }
  assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1), 'every event arrived');
  assert.ok(errors.length >= 1, 'the lost connection was reported through onError');
  await eventually(async () => {
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM event.pending_event WHERE session_id = $1', [session.id]);
    return rows[0].n === 0 ? true : undefined;
  }, 'queue drained');
});

test('concurrent writers while a consumer follows live: each committed event exactly once, in row order, none rolled back', async () => {
  const { aq, session } = await subscribedTable(db, 'busy');
  clients.push(aq);
  const rowsCount = 5;
  await db.pool.query('INSERT INTO public.busy (id) SELECT generate_series(1, $1::int)', [rowsCount]);
  await clearInbox(db.pool, session.id); // start from the updates
  const writers = 4;
  const transactions = 15;
  let committedUpdates = 0;
  const committedInserts: number[] = [];
  const write = async (writer: number) => {
    for (let t = 0; t < transactions; t++) {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        const row = 1 + ((writer + t) % rowsCount);
        await client.query('UPDATE public.busy SET v = v + 1 WHERE id = $1', [row]);
        const inserted = 1000 + writer * 100 + t;
        await client.query('INSERT INTO public.busy (id) VALUES ($1)', [inserted]);
        if (t % 4 === 3) {
          await client.query('ROLLBACK');
        } else {
          await client.query('COMMIT');
          committedUpdates++;
          committedInserts.push(inserted);
        }
      } finally {
        client.release();
      }
    }
  };
  const seen: DeliveredEvent[] = [];
  const consumer = collect(session, { batchSize: 10, pollInterval: '250ms' },
    // 9999 is committed after every writer and has the highest id: in strict order it comes last.
    (events) => events.some((e) => e.payload?.id === 9999), 30_000)
    .then((events) => seen.push(...events));
  await Promise.all(Array.from({ length: writers }, (_, w) => write(w)));
  await db.pool.query('INSERT INTO public.busy (id) VALUES (9999)');
  committedInserts.push(9999);
  await consumer;

  const inserts = seen.filter((e) => e.operation === 'row_insert').map((e) => e.payload.id as number);
  assert.deepEqual([...inserts].sort((a, b) => a - b), [...committedInserts].sort((a, b) => a - b), 'each committed insert once, no rolled-back one');
  const updates = seen.filter((e) => e.operation === 'field_update');
  assert.equal(updates.length, committedUpdates);
  assert.equal(new Set(seen.map((e) => e.id)).size, seen.length, 'no duplicates');
  for (let row = 1; row <= rowsCount; row++) {
    const values = updates.filter((e) => e.operation === 'field_update' && e.payload.v !== undefined
      && e.row_id && 'pk_value' in e.row_id && e.row_id.pk_value === String(row))
      .map((e) => [(e as unknown as { old_payload: { v: number } }).old_payload.v, (e as unknown as { payload: { v: number } }).payload.v]);
    values.forEach(([before, after], i) => {
      assert.equal(after, before! + 1, `row ${row}: each update increments`);
      assert.equal(before, i, `row ${row}: updates arrive in the order they happened`);
    });
  }
});

test('batches: nack and ack a whole batch; unsettled batches are acked on advance and returned on exit', async () => {
  const { aq, session } = await subscribedTable(db, 'batched');
  clients.push(aq);
  await db.pool.query('INSERT INTO public.batched (id) SELECT generate_series(1, 35)');
  const seen: Array<{ ids: unknown[]; attempts: number[] }> = [];
  let round = 0;
  for await (const batch of session.batches({ batchSize: 10, pollInterval: '1h' })) {
    seen.push({ ids: batch.events.map((e) => e.payload?.id), attempts: batch.events.map((e) => e.attempts) });
    round++;
    if (round === 1) await batch.nack();
    else if (round === 2) await batch.ack();
    else if (round === 4) break; // 21..30 left unsettled: returned
  }
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  assert.deepEqual(seen.map((b) => b.ids), [range(1, 10), range(1, 10), range(11, 20), range(21, 30)]);
  assert.deepEqual(seen[1]!.attempts, Array(10).fill(2), 'the nacked batch came back');
  const { rows } = await db.pool.query<{ id: number }>(
    "SELECT (event -> 'payload' ->> 'id')::int AS id FROM event.pending_event WHERE session_id = $1 AND (visible_at IS NULL OR visible_at <= now()) ORDER BY id",
    [session.id]);
  assert.deepEqual(rows.map((r) => r.id), range(21, 35),
    'batch 3 was acked on advance; the batch the loop left is deliverable again, before the never fetched 31..35');
});
