/**
 * Capture appends a statement's rows to the shared change log and each
 * session's reader makes them into events when it reads. Large statements
 * read in batches, wide tables, large rows, and what counts events not yet
 * read (stats, purge) must give exactly the events of the statements, in
 * their order.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, summary } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

async function subscribedTo(table: string): Promise<string> {
  const session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', $2))", [session, table]);
  return session;
}

async function fetchAll(session: string, batch: number): Promise<Array<{ id: string; event: Record<string, any> }>> {
  const all: Array<{ id: string; event: Record<string, any> }> = [];
  for (;;) {
    const { rows } = await db.pool.query("SELECT id::text AS id, event FROM event.fetch_events($1, $2, '1 minute')", [session, batch]);
    if (rows.length === 0) return all;
    all.push(...rows);
    await db.pool.query('SELECT event.ack($1, $2::bigint[])', [session, rows.map((r) => r.id)]);
  }
}

const ascending = (ids: string[]) => ids.every((id, i) => i === 0 || BigInt(ids[i - 1]!) < BigInt(id));

test('a statement of 2,500 rows: every event once, in row order, read in batches', async () => {
  await db.pool.query('CREATE TABLE many (id int PRIMARY KEY, v int)');
  const session = await subscribedTo('many');
  await db.pool.query('INSERT INTO many SELECT g, 0 FROM generate_series(1, 2500) g');
  await db.pool.query('UPDATE many SET v = id % 2');
  await db.pool.query('DELETE FROM many WHERE id > 2000');
  const peeked = (await db.pool.query('SELECT id::text AS id FROM event.peek($1, 10000)', [session])).rows.map((r) => r.id);
  const events = await fetchAll(session, 333);
  assert.equal(events.length, 2500 + 1250 + 500);
  assert.deepEqual(events.map((e) => e.id), peeked, 'peek and fetch agree');
  assert.ok(ascending(events.map((e) => e.id)), 'ids increase');
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'and are unique');
  assert.deepEqual(events.slice(0, 2500).map((e) => e.event.payload.id), Array.from({ length: 2500 }, (_, i) => i + 1));
  assert.deepEqual(events.slice(2500, 3750).map((e) => e.event.row_id.pk_value), Array.from({ length: 1250 }, (_, i) => String(2 * i + 1)),
    'field_updates only of rows whose value changed, in row order');
  assert.ok(events.slice(2500, 3750).every((e) => e.event.operation === 'field_update' && e.event.old_payload.v === 0 && e.event.payload.v === 1));
  assert.deepEqual(events.slice(3750).map((e) => e.event.payload.id), Array.from({ length: 500 }, (_, i) => 2001 + i));
  assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM event.inbox WHERE session_id = $1', [session])).rows[0].n, 0);
});

test('an update of a wide table: one event per row and changed column, each once', async () => {
  const columns = Array.from({ length: 1200 }, (_, i) => `c${i}`);
  await db.pool.query(`CREATE TABLE wide (id int PRIMARY KEY, ${columns.map((c) => `${c} int DEFAULT 0`).join(', ')})`);
  await db.pool.query('INSERT INTO wide (id) SELECT generate_series(1, 900)');
  const session = await subscribedTo('wide');
  await db.pool.query('UPDATE wide SET c0 = 1, c1199 = 2');
  const events = await queued(db.pool, session);
  assert.equal(events.length, 1800);
  assert.deepEqual(events.slice(0, 4).map(summary), [
    ['field_update', '1', { c0: 1 }], ['field_update', '1', { c1199: 2 }],
    ['field_update', '2', { c0: 1 }], ['field_update', '2', { c1199: 2 }],
  ]);
  assert.ok(ascending(events.map((e) => String(e.id))));
  await db.pool.query('SELECT event.session_delete($1)', [session]);
});

test('large rows (2 MB each) are read in batches, whole', async () => {
  await db.pool.query('CREATE TABLE big (id int PRIMARY KEY, body text)');
  const session = await subscribedTo('big');
  await db.pool.query("INSERT INTO big SELECT g, repeat(md5(g::text), 65536) FROM generate_series(1, 20) g"); // 2 MB each
  const events = await fetchAll(session, 7);
  assert.deepEqual(events.map((e) => e.event.payload.id), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(events[19]!.event.payload.body.length, 32 * 65536);
});

test('a one-row statement and the same row in a larger one give the same event', async () => {
  await db.pool.query('CREATE TABLE twin (id int PRIMARY KEY, label text, at timestamptz, n numeric)');
  const session = await subscribedTo('twin');
  await db.pool.query("INSERT INTO twin VALUES (1, 'a', '2026-01-01T00:00:00Z', 1.50)");
  await db.pool.query("INSERT INTO twin VALUES (2, 'a', '2026-01-01T00:00:00Z', 1.50), (3, 'b', NULL, NULL)");
  const [one, two] = (await queued(db.pool, session)).map(({ id, transaction_id, timestamp, payload, row_id, ...rest }) =>
    ({ ...rest, payload: { ...payload, id: 0 }, pk_value: row_id.pk_value }));
  assert.deepEqual({ ...one, pk_value: '2' }, two);
});

test('stats count events not yet read, also field_updates; purge counts them; a deleted session leaves nothing', async () => {
  await db.pool.query("SELECT event.purge_pending('0', now() + interval '1 minute')"); // what earlier tests left
  await db.pool.query('CREATE TABLE counted (id int PRIMARY KEY, a int, b int)');
  const session = await subscribedTo('counted');
  await db.pool.query('INSERT INTO counted SELECT g, 0, 0 FROM generate_series(1, 10) g');
  await db.pool.query('UPDATE counted SET a = 1, b = 1 WHERE id <= 4');
  await db.pool.query('UPDATE counted SET a = a WHERE id > 4'); // changes nothing: no event
  const backlog = async () => Number((await db.pool.query('SELECT backlog FROM event.stats() WHERE session_id = $1', [session])).rows[0].backlog);
  assert.equal(await backlog(), 10 + 8);
  await db.pool.query("SELECT * FROM event.fetch_events($1, 3, '1 minute')", [session]);
  assert.equal(await backlog(), 15, 'three leased, the rest pending'); 
  assert.equal(Number((await db.pool.query("SELECT event.purge_pending('0', now() + interval '1 minute') AS n")).rows[0].n), 18);
  assert.equal(await backlog(), 0);

  await db.pool.query('INSERT INTO counted SELECT g, 0, 0 FROM generate_series(11, 15) g');
  await db.pool.query('SELECT * FROM event.peek($1, 100)', [session]); // collected into its inbox
  await db.pool.query("DELETE FROM event.session WHERE id = $1", [session]);
  assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM event.inbox WHERE session_id = $1', [session])).rows[0].n, 0);
  assert.equal((await db.pool.query('SELECT event.reclaim_leases() AS s')).rows[0].s.orphan_events, 0);
});
