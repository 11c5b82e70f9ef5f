/**
 * sql/050–052 changed how a captured event is stored (its parts, not its
 * JSON), sql/060–064 what capture stores (chunks of rows, made into events
 * when read). A database upgraded with events still pending must deliver
 * those events unchanged, and an event captured after the upgrades must
 * have the very same JSON shape as one captured before them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { loadMigrations } from '../src/db/sql-files.js';
import { createTestDatabase, withDatabase, type TestDatabase } from './support/database.js';

const FIRST_COMPACT_VERSION = 50;
const FIRST_CHUNK_VERSION = 60;

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

test('events pending across the storage upgrades (050: parts, 060: chunks) are delivered unchanged; new ones have the same JSON', async () => {
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
  const asJson = await subscribe();
  await pool.query(change);
  const storedJson = (await pool.query('SELECT event FROM event.queue WHERE session_id = $1 ORDER BY id', [asJson])).rows
    .map((r) => r.event);
  assert.equal(storedJson.length, 10, 'insert, 2 field updates ×2 grains, delete ×2, pair insert, update, truncate');

  // Each session keeps what it has pending, and takes no part in the next round.
  const unsubscribe = (session: string) => pool.query('DELETE FROM event.subscription WHERE session_id = $1', [session]);
  await unsubscribe(asJson);
  await migrate(pool, all.filter((m) => m.version < FIRST_CHUNK_VERSION));
  const asParts = await subscribe();
  await pool.query(change);
  const storedParts = (await pool.query('SELECT event FROM event.pending_event WHERE session_id = $1 ORDER BY id', [asParts]))
    .rows.map((r) => r.event);
  assert.equal(storedParts.length, 10);

  const upgraded = await migrate(pool, all);
  assert.deepEqual(upgraded.applied, all.filter((m) => m.version >= FIRST_CHUNK_VERSION).map((m) => m.version));
  const old = await events(asJson);
  assert.deepEqual(old, storedJson, 'pending JSON events from before 050 are delivered exactly as stored');
  assert.deepEqual(await events(asParts), storedParts, 'pending events stored as parts (050) are delivered unchanged');
  assert.deepEqual(storedParts.map(shape), old.map(shape));

  await unsubscribe(asParts);
  const fresh = await subscribe();
  await pool.query(change);
  const count = async (table: string) =>
    (await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE session_id = $1`, [fresh])).rows[0].n;
  assert.equal(await count('event.capture'), 7, 'captured as chunks: one per statement and subscription (truncate aside)');
  assert.equal(await count('event.queue'), 1, 'only the truncate event is written as a queue row');
  const now = await events(fresh);
  assert.equal(now.length, old.length);
  assert.deepEqual(now.map(shape), old.map(shape), 'the same change gives the same events after the upgrades');
  assert.equal(await count('event.capture'), 0, 'a fetch made every chunk into queue rows');
});
