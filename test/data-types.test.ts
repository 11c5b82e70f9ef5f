// Values round-trip exactly through the event JSON; large rows never fail a write.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { listen, newSession, queued, oidOf } from './support/events.js';

let db: TestDatabase;
let session: string;
before(async () => {
  db = await createTestDatabase();
  await db.pool.query(`CREATE TABLE typed (
    id int PRIMARY KEY, t text, n numeric, b bigint, ts timestamptz, j jsonb, raw bytea,
    ints int[], texts text[], nothing text, f float8, d date, flag boolean, big text)`);
  session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'typed'))", [session]);
});
after(() => db.drop());

const ROW = `(1, E'quote '' "double" \\\\ back\\nnew line ünïcødé 🐘', 12345678901234567890.123456789012345678,
  9223372036854775807, '2026-11-26 12:34:56.789012+00', '{"nested": {"a": [1, 2.50, null, "x"]}, "n": 1e400}',
  '\\x00ff10', ARRAY[1, NULL, 3], ARRAY['a,b', '"q"', NULL], NULL, 1.5e-300, '2026-02-28', true, NULL)`;

test('every value of a row_insert and field_update reconstructs the row exactly', async () => {
  await db.pool.query(`INSERT INTO typed VALUES ${ROW}`);
  await db.pool.query("UPDATE typed SET n = n + 1, ts = ts + interval '1 microsecond', raw = '\\xdeadbeef'");
  const { rows } = await db.pool.query(`
    WITH e AS (SELECT id, event FROM event.pending_event WHERE session_id = $1)
    SELECT
      (SELECT jsonb_populate_record(NULL::typed, event -> 'payload') FROM e WHERE event ->> 'operation' = 'row_insert')
        IS NOT DISTINCT FROM (SELECT t FROM (VALUES ${ROW}) AS v, LATERAL (SELECT v::text::typed) AS x(t)) AS insert_exact,
      (SELECT jsonb_object_agg(k, v) FROM e, jsonb_each(event -> 'payload') AS p(k, v)
        WHERE event ->> 'operation' = 'field_update') AS updates,
      (SELECT row_to_json(cur.*)::jsonb FROM typed cur) AS now_row`, [session]);
  assert.equal(rows[0].insert_exact, true, 'jsonb_populate_record(payload) equals the inserted row');
  const updates = rows[0].updates;
  assert.deepEqual(Object.keys(updates).sort(), ['n', 'raw', 'ts']);
  for (const key of Object.keys(updates)) assert.deepEqual(updates[key], rows[0].now_row[key]);
});

test('numbers keep every digit in the event text', async () => {
  const { rows } = await db.pool.query(`SELECT event -> 'payload' ->> 'b' AS b, event -> 'payload' ->> 'n' AS n
    FROM event.pending_event WHERE session_id = $1 AND event ->> 'operation' = 'row_insert'`, [session]);
  assert.equal(rows[0].b, '9223372036854775807');
  assert.equal(rows[0].n, '12345678901234567890.123456789012345678');
});

test('a 1 MB value: the write succeeds, the queue holds it all, the wake-up names only the table', async () => {
  const listener = await listen(db.url);
  try {
    const big = 'x'.repeat(1024 * 1024) + 'ü';
    await db.pool.query('INSERT INTO typed (id, big) VALUES (2, $1)', [big]);
    const events = await queued(db.pool, session);
    const inserted = events.find((e) => e.operation === 'row_insert' && e.payload.id === 2)!;
    assert.equal(inserted.payload.big, big);
    assert.deepEqual(await listener.next(1), [await oidOf(db.pool, 'typed')]);
    await db.pool.query("UPDATE typed SET big = big || 'y' WHERE id = 2");
    assert.deepEqual(await listener.next(1), [await oidOf(db.pool, 'typed')]);
  } finally {
    await listener.close();
  }
});
