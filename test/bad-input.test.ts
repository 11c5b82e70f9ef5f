// Bad subscription targets: an error with a SQLSTATE that names the object, and nothing half-created.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession } from './support/events.js';

let db: TestDatabase;
let session: string;
before(async () => {
  db = await createTestDatabase();
  await db.pool.query(`CREATE TABLE person (id int PRIMARY KEY, name text);
                       CREATE VIEW person_view AS SELECT * FROM person;`);
  session = await newSession(db.pool);
});
after(() => db.drop());

async function rejects(sql: string, sqlstate: string, message: RegExp) {
  await assert.rejects(db.pool.query(sql, [session]), (error: Error & { code?: string }) => {
    assert.equal(error.code, sqlstate, `${sql}: ${error.message}`);
    assert.match(error.message, message);
    return true;
  });
}

test('missing schema, table and column', async () => {
  await rejects("SELECT event.subscribe_table($1, meta.relation_id('nope', 'person'))", '3F000', /schema "nope" does not exist/);
  await rejects("SELECT event.subscribe_table($1, meta.relation_id('public', 'nobody'))", '42P01', /relation "public.nobody" does not exist/);
  await rejects("SELECT event.subscribe_column($1, meta.column_id('public', 'person', 'age'))", '42703', /column age of relation public.person does not exist/);
  await rejects("SELECT event.subscribe_field($1, meta.field_id('public', 'person', 'id', '1', 'age'))", '42703', /column age/);
});

test('a view, and the event system\'s own tables', async () => {
  await rejects("SELECT event.subscribe_table($1, meta.relation_id('public', 'person_view'))", '42809', /person_view is not a table/);
  await rejects("SELECT event.subscribe_table($1, meta.relation_id('event', 'queue'))", '0A000', /event\.queue/);
  await rejects("SELECT event.subscribe_table($1, meta.relation_id('pg_catalog', 'pg_class'))", '0A000', /pg_class/);
});

test('wrong key columns, and key values of the wrong type', async () => {
  await rejects("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'name', 'x'))", '42P10', /key of public.person is \(id\), not \(name\)/);
  await rejects("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', 'abc'))", '22P02', /invalid key value for column id of public.person/);
});

test('unknown or missing sessions, and NULL targets', async () => {
  await assert.rejects(db.pool.query("SELECT event.subscribe_table('8d0c7a1e-0000-4000-8000-000000000000', meta.relation_id('public', 'person'))"),
    (error: Error & { code?: string }) => error.code === '42704' && /session "8d0c7a1e/.test(error.message));
  await assert.rejects(db.pool.query("SELECT event.subscribe_table(meta.relation_id('public', 'person'))"),
    (error: Error & { code?: string }) => error.code === '22004' && /no current session/.test(error.message));
  await rejects('SELECT event.subscribe_table($1, NULL)', '22004', /must not be null/);
  await assert.rejects(db.pool.query("SELECT event.session_attach('not-a-uuid')"), (error: Error & { code?: string }) => error.code === '22P02');
});

test('malformed identifiers are rejected by their domain', async () => {
  await rejects(`SELECT event.subscribe_table($1, '{"name": "person"}')`, '23514', /relation_id/);
  await rejects(`SELECT event.subscribe_row($1, '{"pk_column_id": [], "pk_value": []}')`, '23514', /row_id/);
});

test('nothing is half-created by a failed subscribe', async () => {
  const { rows } = await db.pool.query(`SELECT
    (SELECT count(*) FROM event.subscription WHERE session_id = $1)::int AS subs,
    (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'person'::regclass AND tgname LIKE 'aqevent%')::int AS triggers`, [session]);
  assert.deepEqual(rows[0], { subs: 0, triggers: 0 });
});
