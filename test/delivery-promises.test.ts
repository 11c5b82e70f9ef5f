/**
 * Delivery that never surprises (issue #15): exact limits, order for every
 * operation, keys independent of the writer's settings, ids shown are ids
 * ackable, overflow markers that every consumer can read, counts that agree
 * with lists after a DROP TABLE.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Aqevent } from '../src/client.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, summary } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  await db.pool.query(`CREATE TABLE public.wide10 (id int PRIMARY KEY, ${Array.from({ length: 10 }, (_, i) => `c${i} int DEFAULT 0`).join(', ')});
    CREATE TABLE public.ordered (id int PRIMARY KEY, v text);
    CREATE TABLE public.stamped (at timestamptz PRIMARY KEY, v int);
    CREATE TABLE public.doomed (id int PRIMARY KEY)`);
});
after(() => db.drop());

async function subscribed(table: string): Promise<string> {
  const session = await newSession(db.pool);
  await db.pool.query('SELECT event.subscribe_table($1, $2::text)', [session, table]);
  return session;
}

test('fetch_events returns at most max_events, also when one UPDATE gives many field_updates', async () => {
  await db.pool.query('INSERT INTO public.wide10 (id) VALUES (1), (2)');
  const session = await subscribed('public.wide10');
  await db.pool.query(`UPDATE public.wide10 SET ${Array.from({ length: 10 }, (_, i) => `c${i} = 1`).join(', ')}`);
  const sizes: number[] = [];
  for (;;) {
    const { rows } = await db.pool.query("SELECT id FROM event.fetch_events($1, 3, '1 minute')", [session]);
    if (rows.length === 0) break;
    sizes.push(rows.length);
    await db.pool.query('SELECT event.ack($1, $2)', [session, rows.map((r) => r.id)]);
  }
  assert.deepEqual(sizes, [3, 3, 3, 3, 3, 3, 2], '20 field_updates, 3 at a time');
});

test('TRUNCATE keeps its place: an INSERT before it in the transaction is delivered before it', async () => {
  const session = await subscribed('public.ordered');
  await db.pool.query("BEGIN; INSERT INTO public.ordered VALUES (1, 'a'); TRUNCATE public.ordered; INSERT INTO public.ordered VALUES (2, 'b'); COMMIT");
  const ops: string[] = [];
  for (;;) {
    const { rows } = await db.pool.query("SELECT id, event FROM event.fetch_events($1, 1, '1 minute')", [session]);
    if (rows.length === 0) break;
    ops.push(`${rows[0].event.operation}${rows[0].event.payload?.id ?? ''}`);
    await db.pool.query('SELECT event.ack($1, $2)', [session, [rows[0].id]]);
  }
  assert.deepEqual(ops, ['row_insert1', 'truncate', 'row_insert2']);
});

test('a timestamptz key matches and reads the same whatever TimeZone, DateStyle and IntervalStyle the writer has', async () => {
  await db.pool.query("INSERT INTO public.stamped VALUES ('2026-03-01 12:00:00+00', 0)");
  const session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'stamped', 'at', '2026-03-01T13:00:00+01:00'))", [session]);
  const writer = new pg.Client({ connectionString: db.url });
  await writer.connect();
  try {
    await writer.query("SET TimeZone = 'Europe/Berlin'; SET DateStyle = 'German, DMY'; SET IntervalStyle = 'sql_standard'");
    await writer.query("UPDATE public.stamped SET v = 1 WHERE at = '2026-03-01 12:00:00+00'");
    await writer.query("SET TimeZone = 'America/New_York'; SET DateStyle = 'SQL, MDY'");
    await writer.query("DELETE FROM public.stamped WHERE at = '2026-03-01 12:00:00+00'");
  } finally {
    await writer.end();
  }
  const events = await queued(db.pool, session);
  assert.deepEqual(events.map((e) => e.operation), ['field_update', 'row_delete']);
  assert.equal(events[0]!.row_id.pk_value, events[1]!.row_id.pk_value, 'one row, one pk_value');
  assert.equal(events[0]!.row_id.pk_value, '2026-03-01T12:00:00+00:00');
});

test('ids that peek shows are ackable; ack_each says which ids were not pending', async () => {
  const session = await subscribed('public.ordered');
  await db.pool.query("INSERT INTO public.ordered VALUES (10, 'x'), (11, 'y')");
  const shown = (await db.pool.query('SELECT id FROM event.peek($1, 10)', [session])).rows.map((r) => r.id);
  assert.equal(shown.length, 2);
  const { rows } = await db.pool.query('SELECT id::text, acknowledged FROM event.ack_each($1, $2)', [session, [...shown, '999999999']]);
  assert.deepEqual(rows.map((r) => [r.id, r.acknowledged]), [[shown[0], true], [shown[1], true], ['999999999', false]]);
  assert.equal((await queued(db.pool, session)).length, 0);
});

test('an overflow marker is an event every consumer can read: events() yields it and goes on', async () => {
  await db.pool.query("UPDATE event.settings SET value = 3 WHERE name = 'max_pending_per_session'");
  const aq = await Aqevent.connect({ pool: db.pool });
  try {
    const session = await aq.createSession();
    await session.subscribeTable('public.ordered');
    await db.pool.query("INSERT INTO public.ordered SELECT g, 'o' FROM generate_series(100, 105) g");
    const seen: string[] = [];
    for await (const event of session.events({ batchSize: 10 })) {
      seen.push(event.operation);
      break;
    }
    assert.deepEqual(seen, ['overflow']);
    await db.pool.query('SELECT event.session_resume($1)', [session.id]);
    await db.pool.query("INSERT INTO public.ordered VALUES (200, 'after')");
    for await (const event of session.events({ batchSize: 10 })) {
      if (event.operation === 'overflow') continue; // the marker again, if the first loop left it unacked
      assert.equal(event.operation, 'row_insert');
      break;
    }
  } finally {
    await db.pool.query("UPDATE event.settings SET value = 10000000 WHERE name = 'max_pending_per_session'");
    await aq.close();
  }
});

test('after DROP TABLE of a subscribed table, the count and the list of subscriptions agree', async () => {
  const session = await subscribed('public.doomed');
  await db.pool.query('DROP TABLE public.doomed');
  const info = (await db.pool.query('SELECT subscriptions FROM event.session_info($1)', [session])).rows[0];
  const listed = (await db.pool.query('SELECT count(*)::int AS n FROM event.subscription WHERE session_id = $1', [session])).rows[0].n;
  assert.equal(Number(info.subscriptions), listed);
  assert.equal(listed, 0);
});
