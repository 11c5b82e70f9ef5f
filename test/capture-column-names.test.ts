// Capture turns rows into JSON with whole-row references to its transition
// tables (aliased n and o). A user column with the same name must not take
// their place: every operation of such a table still carries whole rows and
// pairs old with new rows by key.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;

before(async () => {
  db = await createTestDatabase();
  await db.pool.query('CREATE TABLE public.counts (id integer PRIMARY KEY, n integer NOT NULL, o text)');
  await db.pool.query(`SELECT event.subscribe_table(event.session_create(), meta.relation_id('public', 'counts'))`);
});
after(() => db.drop());

test('a table with columns named n and o gets whole-row payloads and field updates', async () => {
  await db.pool.query(`INSERT INTO public.counts VALUES (1, 10, 'a')`);
  await db.pool.query('UPDATE public.counts SET n = n + 1 WHERE id = 1');
  await db.pool.query('DELETE FROM public.counts WHERE id = 1');
  const { rows } = await db.pool.query<{ operation: string; payload: unknown; old_payload: unknown }>(
    `SELECT event ->> 'operation' AS operation, event -> 'payload' AS payload, event -> 'old_payload' AS old_payload
     FROM event.pending_event ORDER BY id`);
  assert.deepEqual(rows, [
    { operation: 'row_insert', payload: { id: 1, n: 10, o: 'a' }, old_payload: null },
    { operation: 'field_update', payload: { n: 11 }, old_payload: { n: 10 } },
    { operation: 'row_delete', payload: { id: 1 }, old_payload: null },
  ]);
});
