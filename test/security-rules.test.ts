/**
 * Security rules of issue #14, each a regression test: schema USAGE is
 * checked at subscribe time and again when events are read; a role with
 * SELECT only cannot hold a lock that blocks writers; a role that may not read
 * a key column is refused; sessions per role are capped.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let r: Record<'reader' | 'writer', TestRole>;
before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['reader', 'writer'] as const);
  await db.pool.query(`
    GRANT aqevent_user TO ${r.reader.sql};
    CREATE SCHEMA fenced;
    CREATE TABLE fenced.open_to_all (id int PRIMARY KEY, v text);
    GRANT SELECT ON fenced.open_to_all TO PUBLIC;
    SELECT event.enable_capture('fenced.open_to_all');
    CREATE TABLE public.watched (id int PRIMARY KEY, v text);
    GRANT SELECT ON public.watched TO ${r.reader.sql};
    GRANT SELECT, INSERT, UPDATE, DELETE ON public.watched TO ${r.writer.sql};
    CREATE TABLE public.keyed (ssn text PRIMARY KEY, name text);
    GRANT SELECT (name) ON public.keyed TO ${r.reader.sql};
    SELECT event.enable_capture('public.keyed');
    CREATE SCHEMA later;
    GRANT USAGE ON SCHEMA later TO ${r.reader.sql};
    CREATE TABLE later.t (id int PRIMARY KEY);
    GRANT SELECT ON later.t TO ${r.reader.sql};
    SELECT event.enable_capture('later.t');`);
});
after(async () => {
  await endRoles(r);
  await db.drop();
});

async function session(): Promise<string> {
  return (await r.reader.pool.query('SELECT event.session_create() AS id')).rows[0].id;
}

test('SELECT granted to PUBLIC on a table in a schema the role has no USAGE on is not enough', async () => {
  const s = await session();
  const error = await r.reader.pool.query("SELECT event.subscribe_table($1, meta.relation_id('fenced', 'open_to_all'))", [s]).catch((e) => e);
  assert.equal(error.code, '42501');
  assert.match(error.message, /USAGE on schema fenced/);
});

test('USAGE revoked after subscribing: the events not yet read are not delivered', async () => {
  const s = await session();
  await r.reader.pool.query("SELECT event.subscribe_table($1, meta.relation_id('later', 't'))", [s]);
  await db.pool.query('INSERT INTO later.t VALUES (1)');
  await db.pool.query(`REVOKE USAGE ON SCHEMA later FROM ${r.reader.sql}`);
  await db.pool.query('INSERT INTO later.t VALUES (2)');
  const { rows } = await r.reader.pool.query('SELECT count(*)::int AS n FROM event.queue WHERE session_id = $1', [s]);
  assert.equal(rows[0].n, 0);
  await db.pool.query(`GRANT USAGE ON SCHEMA later TO ${r.reader.sql}`);
});

test('a role with SELECT only cannot install capture (and so hold a lock writers wait for); the owner enables it', async () => {
  const s = await session();
  const refused = await r.reader.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'watched'))", [s]).catch((e) => e);
  assert.equal(refused.code, '42501');
  assert.match(refused.hint, /event\.enable_capture/);
  assert.equal(await sqlstateOf(r.reader.pool.query("SELECT event.enable_capture('public.watched')")), '42501');
  await db.pool.query("SELECT event.enable_capture('public.watched')");
  // now a reader's open transaction after subscribing blocks no writer
  const client = await r.reader.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'watched'))", [s]);
    await r.writer.pool.query("SET statement_timeout = '3s'");
    await r.writer.pool.query("INSERT INTO public.watched VALUES (1, 'not blocked')");
    await client.query('COMMIT');
  } finally {
    client.release();
  }
});

test('a role that may not SELECT a key column is refused, naming the column', async () => {
  const s = await session();
  const error = await r.reader.pool.query("SELECT event.subscribe_column($1, meta.column_id('public', 'keyed', 'name'))", [s]).catch((e) => e);
  assert.equal(error.code, '42501');
  assert.match(error.message, /column ssn of public\.keyed, part of its primary key/);
});

test('sessions per role are capped by max_sessions_per_role', async () => {
  await db.pool.query("UPDATE event.settings SET value = 3 WHERE name = 'max_sessions_per_role'");
  try {
    const owned = Number((await r.reader.pool.query('SELECT count(*) AS n FROM event.session')).rows[0].n);
    for (let i = owned; i < 3; i++) await session();
    const error = await r.reader.pool.query('SELECT event.session_create()').catch((e) => e);
    assert.equal(error.code, '54000');
    assert.match(error.message, /may own at most 3 sessions/);
  } finally {
    await db.pool.query("UPDATE event.settings SET value = 10000 WHERE name = 'max_sessions_per_role'");
  }
});
