// Deletes stored by key: a DELETE of a table whose row_delete events carry
// only the key and the replica identity is one change row per statement (or
// per chunk of a large one), and the reader makes one event per deleted row
// from it. Whole old rows are stored when the reader needs them: a filter,
// row-level security, REPLICA IDENTITY FULL, no key.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, summary } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());
beforeEach(async () => {
  await db.pool.query(`
    DROP TABLE IF EXISTS item, pair, part, wide;
    CREATE TABLE item (id bigint PRIMARY KEY, name text, qty int);
    -- key columns apart, in another order than the key, values needing quotes
    CREATE TABLE pair (a text, note text, c timestamptz, PRIMARY KEY (c, a));
    CREATE TABLE part (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
    CREATE TABLE part_1 PARTITION OF part FOR VALUES FROM (0) TO (150000);
    CREATE TABLE part_2 PARTITION OF part FOR VALUES FROM (150000) TO (1000000);
    CREATE TABLE wide (k text PRIMARY KEY, v int);`);
});

async function subscribed(table: string, filter: string | null = null): Promise<string> {
  const session = await newSession(db.pool);
  await db.pool.query('SELECT event.subscribe_table($1, $2::text, filter => $3)', [session, table, filter]);
  return session;
}

/** How the log holds the table's deletes: [whole rows, key arrays, keys in them]. */
async function stored(table: string): Promise<[number, number, number]> {
  const { rows } = await db.pool.query(
    `SELECT count(*) FILTER (WHERE old_row IS NOT NULL)::int AS whole,
            count(*) FILTER (WHERE old_keys IS NOT NULL)::int AS arrays,
            coalesce(sum(cardinality(old_keys)), 0)::int AS keys
     FROM event.change WHERE op = 'd' AND relid = $1::regclass`, [table]);
  return [rows[0].whole, rows[0].arrays, rows[0].keys];
}

test('a DELETE is one change row of keys, delivered as one row_delete per row, in order, with the key as payload', async () => {
  const session = await subscribed('public.item');
  const row = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'item', 'id', '3'))", [row]);
  await db.pool.query("INSERT INTO item SELECT g, 'n' || g, g FROM generate_series(1, 5) g");
  await db.pool.query('DELETE FROM item WHERE id IN (2, 3, 5)');
  assert.deepEqual(await stored('item'), [0, 1, 3]);
  const events = (await queued(db.pool, session)).filter((e) => e.operation === 'row_delete');
  assert.deepEqual(events.map(summary), [
    ['row_delete', '2', { id: 2 }], ['row_delete', '3', { id: 3 }], ['row_delete', '5', { id: 5 }]]);
  assert.ok(events[0]!.id < events[1]!.id && events[1]!.id < events[2]!.id);
  // the row grain gets its row only
  assert.deepEqual((await queued(db.pool, row)).map(summary), [['row_delete', '3', { id: 3 }]]);
});

test('composite keys apart in the row, with commas, quotes, backslashes, spaces and empty strings', async () => {
  const session = await subscribed('public.pair');
  const values = ['x,y', 'q"r', 'back\\slash', ' spaced ', '', '(paren)', 'NULL'];
  await db.pool.query(
    `INSERT INTO pair SELECT v, 'note', timestamptz '2026-01-02 03:04:05.123456+00' + (o || ' s')::interval
     FROM unnest($1::text[]) WITH ORDINALITY u(v, o)`, [values]);
  await db.pool.query("SET TimeZone = 'Asia/Kolkata'; DELETE FROM pair; RESET TimeZone");
  assert.deepEqual(await stored('pair'), [0, 1, values.length]);
  const events = (await queued(db.pool, session)).filter((e) => e.operation === 'row_delete');
  assert.deepEqual(events.map((e) => e.row_id.pk_value[1]).sort(), [...values].sort());
  for (const e of events) {
    const [c, a] = e.row_id.pk_value as [string, string];
    assert.deepEqual(Object.keys(e.payload).sort(), ['a', 'c']);
    assert.equal(e.payload.a, a);
    assert.match(c, /^2026-01-02T03:04:(0[6-9]|1[0-2])\.123456\+00:00$/);
    assert.equal(e.payload.c, c);
  }
});

test('a filter makes deletes whole (and decided); without it they are keys again', async () => {
  const filtered = await subscribed('public.item', 'qty > 2');
  await db.pool.query("INSERT INTO item SELECT g, 'n' || g, g FROM generate_series(1, 4) g");
  await db.pool.query('DELETE FROM item WHERE id IN (1, 3)');
  assert.deepEqual(await stored('item'), [2, 0, 0]);
  const deletes = (await queued(db.pool, filtered)).filter((e) => e.operation === 'row_delete');
  assert.deepEqual(deletes.map(summary), [['row_delete', '3', { id: 3 }]]);
  await db.pool.query('SELECT event.session_delete($1)', [filtered]);
  const plain = await subscribed('public.item');
  await db.pool.query('DELETE FROM item');
  assert.deepEqual(await stored('item'), [2, 1, 2]);
  assert.deepEqual((await queued(db.pool, plain)).map(summary), [['row_delete', '2', { id: 2 }], ['row_delete', '4', { id: 4 }]]);
});

test('row-level security and REPLICA IDENTITY FULL make deletes whole; INDEX keeps its columns too', async () => {
  const session = await subscribed('public.item');
  await db.pool.query("INSERT INTO item SELECT g, 'n' || g, g FROM generate_series(1, 6) g");
  await db.pool.query('ALTER TABLE item ENABLE ROW LEVEL SECURITY');
  await db.pool.query('DELETE FROM item WHERE id = 1');
  assert.deepEqual(await stored('item'), [1, 0, 0]);
  await db.pool.query('ALTER TABLE item DISABLE ROW LEVEL SECURITY');
  await db.pool.query('DELETE FROM item WHERE id = 2');
  assert.deepEqual(await stored('item'), [1, 1, 1]);
  await db.pool.query('ALTER TABLE item REPLICA IDENTITY FULL');
  await db.pool.query('DELETE FROM item WHERE id = 3');
  assert.deepEqual(await stored('item'), [2, 1, 1]);
  await db.pool.query('CREATE UNIQUE INDEX item_name ON item (name, qty); ALTER TABLE item ALTER name SET NOT NULL, ALTER qty SET NOT NULL');
  await db.pool.query('ALTER TABLE item REPLICA IDENTITY USING INDEX item_name');
  await db.pool.query('DELETE FROM item WHERE id IN (4, 5)');
  assert.deepEqual(await stored('item'), [2, 2, 3]);
  const deletes = (await queued(db.pool, session)).filter((e) => e.operation === 'row_delete');
  assert.deepEqual(deletes.map(summary), [
    ['row_delete', '1', { id: 1 }],
    ['row_delete', '2', { id: 2 }],
    ['row_delete', '3', { id: 3, name: 'n3', qty: 3 }],
    ['row_delete', '4', { id: 4, name: 'n4', qty: 4 }],
    ['row_delete', '5', { id: 5, name: 'n5', qty: 5 }],
  ]);
});

test('large deletes are stored in chunks (a partitioned table by rows, a text key by size), every row delivered once', async () => {
  const parted = await subscribed('public.part');
  const texts = await subscribed('public.wide');
  await db.pool.query('INSERT INTO part SELECT g, NULL FROM generate_series(1, 200001) g');
  await db.pool.query("INSERT INTO wide SELECT lpad(g::text, 1000, 'k'), g FROM generate_series(1, 20000) g");
  await db.pool.query('DELETE FROM part');
  await db.pool.query('DELETE FROM wide');
  assert.deepEqual(await stored('part'), [0, 3, 200001]);
  const [whole, arrays, keys] = await stored('wide');
  assert.deepEqual([whole, keys], [0, 20000]);
  assert.ok(arrays >= 3, `${arrays} chunks of 20 MB of keys`);
  const count = async (session: string) => (await db.pool.query(
    `SELECT count(*)::int AS n, count(DISTINCT event->'row_id'->>'pk_value')::int AS keys
     FROM event.pending_event WHERE session_id = $1 AND event->>'operation' = 'row_delete'`, [session])).rows[0];
  assert.deepEqual(await count(parted), { n: 200001, keys: 200001 });
  assert.deepEqual(await count(texts), { n: 20000, keys: 20000 });
});

test('the DELETE trigger function goes with the table, and with its capture', async () => {
  await subscribed('public.item');
  const name = async (table: string) => (await db.pool.query('SELECT event._delete_capture_name($1::regclass::oid) AS n', [table])).rows[0].n;
  const exists = async (fn: string) => (await db.pool.query(
    "SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'event'::regnamespace AND proname = $1", [fn])).rows[0].n;
  const fn = await name('item');
  assert.equal(await exists(fn), 1);
  // only the trigger may call it, and only as a trigger
  const { rows } = await db.pool.query("SELECT has_function_privilege('public', $1::regprocedure, 'EXECUTE') AS x", [`event.${fn}()`]);
  assert.equal(rows[0].x, false);
  await db.pool.query('DROP TABLE item');
  assert.equal(await exists(fn), 0);
  const session = await subscribed('public.wide');
  const other = await name('wide');
  await db.pool.query('SELECT event.session_delete($1)', [session]);
  await db.pool.query('SELECT event._uninstall_unused_capture()');
  assert.equal(await exists(other), 0);
});
