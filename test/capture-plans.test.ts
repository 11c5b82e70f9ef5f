// The writer pays once: with many row subscriptions on a table, single-row
// writes do not read event.subscription at all (matching is the reader's
// work). The transaction's own scan counters (pg_stat_xact_all_tables) say so.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
const SESSIONS = 10;
const ROWS_PER_SESSION = 100;

before(async () => {
  db = await createTestDatabase();
  await db.pool.query('CREATE TABLE public.watched (id bigint PRIMARY KEY, n integer NOT NULL)');
  await db.pool.query('INSERT INTO public.watched SELECT g, 0 FROM generate_series(1, 2000) AS g');
  await db.pool.query(
    `WITH s AS MATERIALIZED (SELECT n, event.session_create() AS id FROM generate_series(0, $1 - 1) AS n)
     SELECT count(event.subscribe_row(s.id, meta.row_id('public', 'watched', 'id', (s.n * $2 + k)::text)))
     FROM s CROSS JOIN generate_series(1, $2) AS k`,
    [SESSIONS, ROWS_PER_SESSION],
  );
  await db.pool.query('ANALYZE event.subscription');
});
after(() => db.drop());

test('single-row writes on a table with 1,000 row subscriptions never read event.subscription', async () => {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    // More than five executions: the plan cache has settled on its plans.
    for (let i = 0; i < 8; i++) {
      await client.query('UPDATE public.watched SET n = n + 1 WHERE id = 1500'); // no subscription
      await client.query('UPDATE public.watched SET n = n + 1 WHERE id = 42'); // one row subscription
      await client.query('DELETE FROM public.watched WHERE id = $1', [995 + i]); // 995..1000 subscribed
      await client.query('INSERT INTO public.watched VALUES ($1, 0)', [5000 + i]);
    }
    const { rows } = await client.query<{ seq_scan: string; idx_scan: string }>(
      `SELECT seq_scan, idx_scan FROM pg_stat_xact_all_tables WHERE relid = 'event.subscription'::regclass`);
    await client.query('COMMIT');
    const queued = await client.query<{ operation: string; n: number }>(
      `SELECT event ->> 'operation' AS operation, count(*)::int AS n FROM event.queue GROUP BY 1 ORDER BY 1`);
    assert.equal(Number(rows[0]!.seq_scan), 0, 'no sequential scan of event.subscription');
    assert.equal(Number(rows[0]!.idx_scan), 0, 'nor an index scan: writers match nothing');
    // And the readers found what they should: row 42's field updates, the
    // deletes of the subscribed rows 995..1000 (not of 1001 and 1002).
    assert.deepEqual(queued.rows, [
      { operation: 'field_update', n: 8 },
      { operation: 'row_delete', n: 6 },
    ]);
  } finally {
    client.release();
  }
});
