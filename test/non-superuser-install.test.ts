/**
 * An install by a role that is not a superuser (issue #14 item 6): it works,
 * but without event triggers; migrate and stats say so loudly, every time,
 * and a later migrate by a superuser adds them. Capture still runs no user
 * code with any rights but the writer's and the reader's.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, withDatabase, type TestDatabase } from './support/database.js';
import { createRoles, endRoles, type TestRole } from './support/roles.js';
import { runCli } from './support/cli.js';

let db: TestDatabase;
let r: Record<'installer', TestRole>;
let url: string;
let superUrl: string;
before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['installer'] as const);
  const name = `${db.name}_nosu`;
  await db.pool.query(`CREATE DATABASE "${name}" OWNER ${r.installer.sql}`);
  superUrl = withDatabase(db.url, name);
  const parsed = new URL(superUrl);
  parsed.username = r.installer.name;
  parsed.password = 'pw';
  url = parsed.toString();
});
after(async () => {
  await endRoles(r);
  await db.pool.query(`DROP DATABASE IF EXISTS "${db.name}_nosu" WITH (FORCE)`);
  await db.drop();
});

test('migrate as a database owner without superuser: installed, with a warning naming what is missing; stats repeats it; a superuser migrate completes it', async () => {
  const first = await runCli(['--database-url', url, 'migrate']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /ran sql\/install\.sql/);
  assert.match(first.stderr, /warning: no event trigger aqevent_ddl_end/);
  assert.match(first.stderr, /warning: no event trigger aqevent_sql_drop/);
  const stats = await runCli(['--database-url', url, 'stats']);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stderr, /warning: no event trigger aqevent_sql_drop: dropping a subscribed table does not end its subscriptions/);

  // capture works all the same, and a dropped table's subscription is cleaned up by maintenance
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CREATE TABLE public.t (id int PRIMARY KEY, v text)');
    const session = (await client.query('SELECT event.session_create() AS id')).rows[0].id;
    await client.query("SELECT event.subscribe_table($1, 'public.t'::text)", [session]);
    await client.query("INSERT INTO public.t VALUES (1, 'x')");
    assert.equal((await client.query('SELECT count(*)::int AS n FROM event.queue WHERE session_id = $1', [session])).rows[0].n, 1);
  } finally {
    await client.end();
  }

  const completed = await runCli(['--database-url', superUrl, 'migrate']);
  assert.equal(completed.code, 0, completed.stderr);
  assert.doesNotMatch(completed.stderr, /warning/);
  const again = await runCli(['--database-url', url, 'stats']);
  assert.doesNotMatch(again.stderr, /warning/);
});
