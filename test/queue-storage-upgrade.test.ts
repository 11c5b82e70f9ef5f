/**
 * sql/050–052 changed how a captured event is stored (its parts, not its
 * JSON). A database upgraded with events still pending must deliver those
 * events unchanged, and an event captured after the upgrade must have the
 * very same JSON shape as one captured before it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { loadMigrations } from '../src/db/sql-files.js';
import { createTestDatabase, withDatabase, type TestDatabase } from './support/database.js';

const FIRST_COMPACT_VERSION = 50;

let db: TestDatabase;
let pool: pg.Pool;
before(async () => {
  db = await createTestDatabase();
  const name = `${db.name}_up`;
  await db.pool.query(`CREATE DATABASE "${name}"`);
  pool = new pg.Pool({ connectionString: withDatabase(db.url, name), max: 2 });
  pool.on('error', () => {}); // the database is dropped with its clients
});
after(async () => {
  await pool.end();
  await db.drop();
});

/** The parts of an event that do not differ between two captures of the same change. */
function shape(event: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, transaction_id: _tx, timestamp: _at, subscription_id: _sub, ...rest } = event;
  return rest;
}

async function events(session: string): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query('SELECT event FROM event.fetch_events($1, 100, $2)', [session, '1 minute']);
  return rows.map((r) => r.event);
}

test('events queued before the compact storage migration are delivered unchanged; new ones have the same JSON', async () => {
  const all = await loadMigrations();
  await migrate(pool, all.filter((m) => m.version < FIRST_COMPACT_VERSION));
  await pool.query(`CREATE TABLE public.pair (a int, b text, v text, PRIMARY KEY (a, b));
                    CREATE TABLE public.person (id int PRIMARY KEY, name text, score int)`);
  const change = `INSERT INTO public.person VALUES (1, 'Ann', 3);
                  UPDATE public.person SET name = 'Anne', score = 4 WHERE id = 1;
                  DELETE FROM public.person WHERE id = 1;
                  INSERT INTO public.pair VALUES (1, 'x', 'v1');
                  UPDATE public.pair SET v = 'v2';
                  TRUNCATE public.pair`;
  const subscribe = async () => {
    const { rows } = await pool.query('SELECT event.session_create() AS id');
    const session = rows[0].id as string;
    await pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'person'))", [session]);
    await pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'pair'))", [session]);
    await pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', '1'))", [session]);
    return session;
  };
  const before = await subscribe();
  await pool.query(change);
  const stored = (await pool.query('SELECT event FROM event.queue WHERE session_id = $1 ORDER BY id', [before])).rows
    .map((r) => r.event);
  assert.equal(stored.length, 10, 'insert, 2 field updates ×2 grains, delete ×2, pair insert, update, truncate');

  const upgraded = await migrate(pool, all);
  assert.deepEqual(upgraded.applied, all.filter((m) => m.version >= FIRST_COMPACT_VERSION).map((m) => m.version));
  const old = await events(before);
  assert.deepEqual(old, stored, 'pending events from before the upgrade are delivered exactly as stored');

  const after = await subscribe();
  await pool.query(change);
  const fresh = await events(after);
  assert.equal(fresh.length, old.length);
  assert.deepEqual(fresh.map(shape), old.map(shape), 'the same change gives the same events after the upgrade');
  const parts = await pool.query('SELECT count(*)::int AS n FROM event.queue WHERE session_id = $1 AND event IS NULL', [after]);
  assert.equal(parts.rows[0].n, fresh.length, 'and they are stored as parts, not as JSON');
});
