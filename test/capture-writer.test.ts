/**
 * The writer pays once (issue #13): what capture does and does not do in the
 * writer's transaction. REPLICA IDENTITY decides what a row_delete carries;
 * serializable and repeatable-read writers gain no conflicts; the writer's
 * work is one append whatever the number of sessions; a transaction's events
 * are read when it commits, however long it ran.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, summary } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  await db.pool.query(`CREATE TABLE public.pdefault (id int PRIMARY KEY, name text, score int);
    CREATE TABLE public.pfull (id int PRIMARY KEY, name text, score int);
    ALTER TABLE public.pfull REPLICA IDENTITY FULL;
    CREATE TABLE public.pindex (id int PRIMARY KEY, code text NOT NULL, v int);
    CREATE UNIQUE INDEX pindex_code ON public.pindex (code);
    ALTER TABLE public.pindex REPLICA IDENTITY USING INDEX pindex_code;
    CREATE TABLE public.left_t (id int PRIMARY KEY, v int);
    CREATE TABLE public.right_t (id int PRIMARY KEY, v int);`);
});
after(() => db.drop());

async function subscribed(...tables: string[]): Promise<string> {
  const session = await newSession(db.pool);
  for (const t of tables) await db.pool.query('SELECT event.subscribe_table($1, $2::text)', [session, t]);
  return session;
}

test('REPLICA IDENTITY DEFAULT: a row_delete carries the key; FULL: the whole old row; USING INDEX: key and index columns', async () => {
  const session = await subscribed('public.pdefault', 'public.pfull', 'public.pindex');
  await db.pool.query(`INSERT INTO public.pdefault VALUES (1, 'a', 1); DELETE FROM public.pdefault;
                       INSERT INTO public.pfull VALUES (2, 'b', 2); DELETE FROM public.pfull;
                       INSERT INTO public.pindex VALUES (3, 'c', 3); DELETE FROM public.pindex`);
  const deletes = (await queued(db.pool, session)).filter((e) => e.operation === 'row_delete').map(summary);
  assert.deepEqual(deletes, [
    ['row_delete', '1', { id: 1 }],
    ['row_delete', '2', { id: 2, name: 'b', score: 2 }],
    ['row_delete', '3', { id: 3, code: 'c' }],
  ]);
});

test('an UPDATE carries only the changed columns, with their old values', async () => {
  const session = await subscribed('public.pfull');
  await db.pool.query("INSERT INTO public.pfull VALUES (5, 'x', 1); UPDATE public.pfull SET score = 2 WHERE id = 5");
  const update = (await queued(db.pool, session)).find((e) => e.operation === 'field_update')!;
  assert.deepEqual([update.payload, update.old_payload], [{ score: 2 }, { score: 1 }]);
});

test('serializable and repeatable-read writers of unrelated tables gain no conflicts from capture', async () => {
  await subscribed('public.left_t', 'public.right_t');
  for (const level of ['SERIALIZABLE', 'REPEATABLE READ']) {
    let failures = 0;
    for (let round = 0; round < 10; round++) {
      const a = new pg.Client({ connectionString: db.url });
      const b = new pg.Client({ connectionString: db.url });
      await a.connect();
      await b.connect();
      try {
        const id = round + (level === 'SERIALIZABLE' ? 0 : 100);
        await a.query(`BEGIN ISOLATION LEVEL ${level}`);
        await b.query(`BEGIN ISOLATION LEVEL ${level}`);
        await a.query('SELECT count(*) FROM public.left_t');
        await b.query('SELECT count(*) FROM public.right_t');
        await a.query('INSERT INTO public.left_t VALUES ($1, 1)', [id]);
        await b.query('INSERT INTO public.right_t VALUES ($1, 1)', [id]);
        for (const c of [a, b]) {
          try {
            await c.query('COMMIT');
          } catch (error) {
            failures++;
            await c.query('ROLLBACK').catch(() => {});
            assert.notEqual((error as { code?: string }).code, undefined);
          }
        }
      } finally {
        await a.end();
        await b.end();
      }
    }
    assert.equal(failures, 0, `${level}: no writer failed`);
  }
});

test('the writer appends once: its statement writes one log row per changed row, whatever the number of sessions', async () => {
  await db.pool.query('CREATE TABLE public.fan (id int PRIMARY KEY, v int)');
  const sessions = await Promise.all(Array.from({ length: 20 }, () => subscribed('public.fan')));
  const client = new pg.Client({ connectionString: db.url }); // fresh: its counters hold only this transaction
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO public.fan SELECT g, 0 FROM generate_series(1, 50) g');
    const { rows } = await client.query(`SELECT
        (SELECT n_tup_ins FROM pg_stat_xact_all_tables WHERE relid = 'event.change'::regclass) AS log,
        (SELECT n_tup_ins FROM pg_stat_xact_all_tables WHERE relid = 'event.inbox'::regclass) AS inbox,
        (SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_xact_all_tables WHERE relid = 'event.subscription'::regclass) AS subscriptions_read`);
    await client.query('COMMIT');
    assert.deepEqual(rows[0], { log: '50', inbox: '0', subscriptions_read: '0' });
  } finally {
    await client.end();
  }
  for (const s of [sessions[0]!, sessions[19]!]) assert.equal((await queued(db.pool, s)).length, 50, 'each session reads all 50');
});

test('a long writer transaction that commits after later ones is read when it commits, nothing skipped or doubled', async () => {
  await db.pool.query('CREATE TABLE public.slow (id int PRIMARY KEY)');
  const session = await subscribed('public.slow');
  const long = new pg.Client({ connectionString: db.url });
  await long.connect();
  try {
    await long.query('BEGIN');
    await long.query('INSERT INTO public.slow VALUES (1)');
    await db.pool.query('INSERT INTO public.slow VALUES (2)');
    const first = await db.pool.query("SELECT id FROM event.fetch_events($1, 10, '1 minute')", [session]);
    assert.equal(first.rows.length, 1, 'only the committed one');
    await db.pool.query('SELECT event.ack($1, $2)', [session, first.rows.map((r) => r.id)]);
    await db.pool.query('INSERT INTO public.slow VALUES (3)');
    await db.pool.query("SELECT * FROM event.peek($1, 10)", [session]); // collect meanwhile
    await long.query('COMMIT');
    const rest = (await queued(db.pool, session)).map((e) => e.payload.id).sort();
    assert.deepEqual(rest, [1, 3]);
    assert.equal((await queued(db.pool, session)).length, 2, 'and only once');
  } finally {
    await long.end();
  }
});

test("a transaction's own writes are not in its own reads; they come once it commits, exactly once", async () => {
  const session = await subscribed('public.pdefault');
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("INSERT INTO public.pdefault VALUES (50, 'own', 0)");
    assert.equal((await client.query('SELECT * FROM event.peek($1, 10)', [session])).rows.length, 0);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  assert.deepEqual((await queued(db.pool, session)).map(summary), [['row_insert', '50', { id: 50, name: 'own', score: 0 }]]);
});
