/**
 * A database installed by the last numbered-migration release (064), with
 * pending, leased, nacked and dead events, upgrades to the current version
 * without losing or changing any of them; afterwards its catalog is exactly
 * that of a fresh install, and new changes are captured as before.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migrate, migrateStatus } from '../src/db/migrate.js';
import { describeCatalog } from './support/catalog.js';
import { createTestDatabase, withDatabase, type TestDatabase } from './support/database.js';
import { installSchemaV64 } from './support/legacy-schema.js';

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

const STATE = `SELECT q.id::text, q.attempts, q.visible_at, q.last_error, q.event FROM %s q WHERE q.session_id = $1 ORDER BY q.id`;

async function rows(sql: string, params: unknown[]): Promise<unknown[]> {
  return (await pool.query(sql, params)).rows;
}

test('064 with pending, leased, nacked and dead events upgrades losing and changing nothing; the catalog equals a fresh install', async () => {
  await installSchemaV64(pool);
  assert.deepEqual(await migrateStatus(pool), { installed: '64', target: (await migrateStatus(db.pool)).target,
    plan: ['upgrade/64--0.2.0.sql'] });
  await pool.query(`CREATE TABLE public.person (id int PRIMARY KEY, name text, score int);
                    CREATE TABLE public.pair (a int, b text, v text, PRIMARY KEY (a, b))`);
  const a = (await pool.query('SELECT event.session_create() AS id')).rows[0].id as string;
  const b = (await pool.query('SELECT event.session_create() AS id')).rows[0].id as string;
  for (const s of [a, b]) {
    await pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'person'))", [s]);
    await pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'pair'))", [s]);
  }
  await pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', '2'))", [a]);
  await pool.query('SELECT event.set_max_attempts($1, 1)', [b]);
  await pool.query(`INSERT INTO public.person VALUES (1, 'Ann', 3), (2, 'Bob', 5);
                    UPDATE public.person SET name = 'Bobby', score = 6 WHERE id = 2;
                    DELETE FROM public.person WHERE id = 1;
                    INSERT INTO public.pair VALUES (1, 'x', 'v1');
                    TRUNCATE public.pair`);
  // a: two leased (one of them nacked with an error and a delay), the rest pending (still chunks)
  const leased = (await pool.query("SELECT id FROM event.fetch_events($1, 2, '1 hour')", [a])).rows.map((r) => r.id);
  await pool.query("SELECT event.nack($1, $2, '30 minutes', 'handler failed')", [a, [leased[1]]]);
  // b: its first event dead (max_attempts 1), one leased, the rest pending
  const first = (await pool.query("SELECT id FROM event.fetch_events($1, 1, '1 second')", [b])).rows[0].id;
  await pool.query("SELECT event.nack($1, $2, '0', 'boom')", [b, [first]]);
  await pool.query("SELECT event.fetch_events($1, 1, '1 hour')", [b]);
  const before = {
    a: await rows(STATE.replace('%s', 'event.pending_event'), [a]),
    b: await rows(STATE.replace('%s', 'event.pending_event'), [b]),
    dead: await rows('SELECT d.id::text, d.attempts, d.last_error, d.event FROM event.dead_letter d WHERE d.session_id = $1 ORDER BY d.id', [b]),
    subscriptions: await rows('SELECT id, session_id, kind, target FROM event.subscription ORDER BY id', []),
  };
  assert.equal(before.a.length, 9, 'session a: 7 table events and the row subscription’s 2 field updates of row 2');
  assert.equal(before.dead.length, 1);

  const result = await migrate(pool);
  assert.deepEqual(result.applied, ['upgrade/64--0.2.0.sql']);

  assert.deepEqual(await rows(STATE.replace('%s', 'event.queue'), [a]), before.a, 'session a unchanged');
  assert.deepEqual(await rows(STATE.replace('%s', 'event.queue'), [b]), before.b, 'session b unchanged');
  assert.deepEqual(await rows('SELECT d.id::text, d.attempts, d.last_error, d.event FROM event.dead_letter d WHERE d.session_id = $1 ORDER BY d.id', [b]),
    before.dead, 'dead letters unchanged');
  assert.deepEqual(await rows('SELECT id, session_id, kind, target FROM event.subscription ORDER BY id', []), before.subscriptions);

  assert.equal(await describeCatalog(pool), await describeCatalog(db.pool), 'the upgraded catalog is a fresh install’s');
  assert.deepEqual((await migrate(pool)).applied, [], 'nothing more to do');

  // capture goes on, with new ids above the old ones
  await pool.query("INSERT INTO public.person VALUES (3, 'Cy', 1); UPDATE public.person SET score = 7 WHERE id = 2");
  const lastId = before.a.map((r) => BigInt((r as { id: string }).id)).reduce((x, y) => (x > y ? x : y));
  const fresh = (await pool.query('SELECT q.id::text, q.event FROM event.queue q WHERE q.session_id = $1 AND q.id > $2 ORDER BY q.id',
    [a, lastId.toString()])).rows;
  assert.deepEqual(fresh.map((r) => [r.event.operation, r.event.subscription_type]),
    [['row_insert', 'table'], ['field_update', 'table'], ['field_update', 'row']]);
  const old = before.a.map((r) => (r as { event: Record<string, unknown> }).event).find((e) => e.operation === 'field_update')!;
  assert.deepEqual(Object.keys(fresh[1].event).sort(), Object.keys(old).sort(), 'the same JSON keys as before the upgrade');
});
