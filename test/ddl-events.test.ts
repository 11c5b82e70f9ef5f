// Schema changes as events: each DDL kind gives exactly the row events by
// which the meta views' before and after states differ, in its transaction.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { metaSession, takeDdl } from './support/ddl.js';

let db: TestDatabase;
let session: string;

before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());
beforeEach(async () => {
  await db.pool.query(`
    DROP SCHEMA IF EXISTS app CASCADE;
    DROP TABLE IF EXISTS public.person CASCADE;
    CREATE TABLE public.person (id int PRIMARY KEY, name text);`);
  await db.pool.query('DELETE FROM event.session');
  session = await metaSession(db.pool);
});

const ddl = async (sql: string) => {
  await db.pool.query(sql);
  return takeDdl(db.pool, session);
};

const column = (relation: string, name: string, type: string, position: number, more: Record<string, unknown> = {}) => ({
  schema_name: relation.split('.')[0], relation_name: relation.split('.')[1], name, type,
  nullable: true, default: null, position, ...more,
});

test('ADD COLUMN: a row_insert on meta.column, with the issue\'s payload', async () => {
  assert.deepEqual(await ddl('ALTER TABLE public.person ADD COLUMN age integer'), [
    ['row_insert', 'meta.column', 'public.person.age', column('public.person', 'age', 'integer', 3)],
  ]);
});

test('DROP COLUMN: a row_delete carrying the old row', async () => {
  assert.deepEqual(await ddl('ALTER TABLE public.person DROP COLUMN name'), [
    ['row_delete', 'meta.column', 'public.person.name', column('public.person', 'name', 'text', 2)],
  ]);
});

test('ALTER COLUMN TYPE / SET DEFAULT / SET NOT NULL: field_updates of meta.column', async () => {
  assert.deepEqual(await ddl('ALTER TABLE public.person ALTER COLUMN name TYPE varchar(20)'), [
    ['field_update', 'meta.column', 'public.person.name', { type: 'character varying(20)' }],
  ]);
  assert.deepEqual(await ddl("ALTER TABLE public.person ALTER COLUMN name SET DEFAULT 'x'"), [
    ['field_update', 'meta.column', 'public.person.name', { default: "'x'::character varying" }],
  ]);
  assert.deepEqual(await ddl('ALTER TABLE public.person ALTER COLUMN name SET NOT NULL'), [
    ['field_update', 'meta.column', 'public.person.name', { nullable: false }],
  ]);
});

test('RENAME COLUMN: row_delete of the old id, then row_insert of the new', async () => {
  assert.deepEqual(await ddl('ALTER TABLE public.person RENAME COLUMN name TO full_name'), [
    ['row_delete', 'meta.column', 'public.person.name', column('public.person', 'name', 'text', 2)],
    ['row_insert', 'meta.column', 'public.person.full_name', column('public.person', 'full_name', 'text', 2)],
  ]);
});

test('RENAME TABLE: every row naming it is deleted, then inserted under the new name', async () => {
  assert.deepEqual(await ddl('ALTER TABLE public.person RENAME TO human'), [
    ['row_delete', 'meta.column', 'public.person.id', column('public.person', 'id', 'integer', 1, { nullable: false })],
    ['row_delete', 'meta.column', 'public.person.name', column('public.person', 'name', 'text', 2)],
    ['row_delete', 'meta.relation', 'public.person', { schema_name: 'public', name: 'person', kind: 'table' }],
    ['row_insert', 'meta.relation', 'public.human', { schema_name: 'public', name: 'human', kind: 'table' }],
    ['row_insert', 'meta.column', 'public.human.id', column('public.human', 'id', 'integer', 1, { nullable: false })],
    ['row_insert', 'meta.column', 'public.human.name', column('public.human', 'name', 'text', 2)],
  ]);
  await db.pool.query('ALTER TABLE public.human RENAME TO person');
});

test('CREATE and DROP TABLE', async () => {
  assert.deepEqual(await ddl('CREATE TABLE public.pet (id int)'), [
    ['row_insert', 'meta.relation', 'public.pet', { schema_name: 'public', name: 'pet', kind: 'table' }],
    ['row_insert', 'meta.column', 'public.pet.id', column('public.pet', 'id', 'integer', 1)],
  ]);
  assert.deepEqual(await ddl('DROP TABLE public.pet'), [
    ['row_delete', 'meta.column', 'public.pet.id', column('public.pet', 'id', 'integer', 1)],
    ['row_delete', 'meta.relation', 'public.pet', { schema_name: 'public', name: 'pet', kind: 'table' }],
  ]);
});

test('CREATE and DROP VIEW', async () => {
  assert.deepEqual(await ddl('CREATE VIEW public.names AS SELECT name FROM public.person'), [
    ['row_insert', 'meta.relation', 'public.names', { schema_name: 'public', name: 'names', kind: 'view' }],
    ['row_insert', 'meta.column', 'public.names.name', column('public.names', 'name', 'text', 1)],
  ]);
  assert.deepEqual(await ddl('DROP VIEW public.names'), [
    ['row_delete', 'meta.column', 'public.names.name', column('public.names', 'name', 'text', 1)],
    ['row_delete', 'meta.relation', 'public.names', { schema_name: 'public', name: 'names', kind: 'view' }],
  ]);
});

test('CREATE, RENAME and DROP SCHEMA (with what it holds)', async () => {
  assert.deepEqual(await ddl('CREATE SCHEMA app'), [['row_insert', 'meta.schema', 'app', { name: 'app' }]]);
  await ddl('CREATE TABLE app.t (id int)');
  assert.deepEqual(await ddl('ALTER SCHEMA app RENAME TO app2'), [
    ['row_delete', 'meta.column', 'app.t.id', column('app.t', 'id', 'integer', 1)],
    ['row_delete', 'meta.relation', 'app.t', { schema_name: 'app', name: 't', kind: 'table' }],
    ['row_delete', 'meta.schema', 'app', { name: 'app' }],
    ['row_insert', 'meta.schema', 'app2', { name: 'app2' }],
    ['row_insert', 'meta.relation', 'app2.t', { schema_name: 'app2', name: 't', kind: 'table' }],
    ['row_insert', 'meta.column', 'app2.t.id', column('app2.t', 'id', 'integer', 1)],
  ]);
  assert.deepEqual(await ddl('DROP SCHEMA app2 CASCADE'), [
    ['row_delete', 'meta.column', 'app2.t.id', column('app2.t', 'id', 'integer', 1)],
    ['row_delete', 'meta.relation', 'app2.t', { schema_name: 'app2', name: 't', kind: 'table' }],
    ['row_delete', 'meta.schema', 'app2', { name: 'app2' }],
  ]);
});

test('several commands in one transaction: each its own events, in order', async () => {
  assert.deepEqual(await ddl(`BEGIN;
      ALTER TABLE public.person ADD COLUMN age integer;
      ALTER TABLE public.person RENAME COLUMN age TO years;
      COMMIT`), [
    ['row_insert', 'meta.column', 'public.person.age', column('public.person', 'age', 'integer', 3)],
    ['row_delete', 'meta.column', 'public.person.age', column('public.person', 'age', 'integer', 3)],
    ['row_insert', 'meta.column', 'public.person.years', column('public.person', 'years', 'integer', 3)],
  ]);
});

test('a rolled-back DDL gives no events, and leaves the snapshot as it was', async () => {
  assert.deepEqual(await ddl('BEGIN; ALTER TABLE public.person ADD COLUMN age integer; DROP TABLE public.person; ROLLBACK'), []);
  assert.deepEqual(await ddl('ALTER TABLE public.person ADD COLUMN age integer'), [
    ['row_insert', 'meta.column', 'public.person.age', column('public.person', 'age', 'integer', 3)],
  ]);
});

test('DDL of temporary tables, and DDL that changes no meta row, gives nothing', async () => {
  assert.deepEqual(await ddl('CREATE TEMPORARY TABLE scratch (id int); DROP TABLE scratch'), []);
  assert.deepEqual(await ddl('CREATE INDEX person_name_idx ON public.person (name); DROP INDEX person_name_idx'), []);
});

test('the DDL is delivered in its own transaction: the event carries its transaction id', async () => {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query('SELECT pg_current_xact_id()::text AS x');
    await client.query('ALTER TABLE public.person ADD COLUMN age integer');
    await client.query('COMMIT');
    const { rows: events } = await db.pool.query('SELECT event FROM event.queue WHERE session_id = $1', [session]);
    assert.equal(events.length, 1);
    assert.equal(String(events[0].event.transaction_id), rows[0].x);
  } finally {
    client.release();
  }
});

test('a session subscribed to meta.column only gets meta.column events', async () => {
  const only = await metaSession(db.pool, ['column']);
  await db.pool.query('CREATE TABLE public.pet (id int); DROP TABLE public.pet');
  assert.deepEqual(await takeDdl(db.pool, only), [
    ['row_insert', 'meta.column', 'public.pet.id', column('public.pet', 'id', 'integer', 1)],
    ['row_delete', 'meta.column', 'public.pet.id', column('public.pet', 'id', 'integer', 1)],
  ]);
});

test('row, field and column grains on meta.column', async () => {
  const s = await metaSession(db.pool, []);
  const id = JSON.stringify({ name: 'name', relation_id: { name: 'person', schema_id: { name: 'public' } } });
  await db.pool.query("SELECT event.subscribe_row($1, meta.row_id('meta', 'column', 'id', $2))", [s, id]);
  const f = await metaSession(db.pool, []);
  await db.pool.query("SELECT event.subscribe_field($1, meta.field_id('meta', 'column', 'id', $2, 'type'))", [f, id]);
  const c = await metaSession(db.pool, []);
  await db.pool.query("SELECT event.subscribe_column($1, meta.column_id('meta', 'column', 'default'))", [c]);
  await db.pool.query(`
    ALTER TABLE public.person ALTER COLUMN name SET DEFAULT 'x';
    ALTER TABLE public.person ALTER COLUMN id SET DEFAULT 0;
    ALTER TABLE public.person ALTER COLUMN name TYPE varchar;
    ALTER TABLE public.person DROP COLUMN name`);
  assert.deepEqual(await takeDdl(db.pool, s), [
    ['field_update', 'meta.column', 'public.person.name', { default: "'x'::text" }],
    ['field_update', 'meta.column', 'public.person.name', { type: 'character varying' }],
    ['row_delete', 'meta.column', 'public.person.name',
      column('public.person', 'name', 'character varying', 2, { default: "'x'::text" })],
  ]);
  assert.deepEqual((await takeDdl(db.pool, f)).map((e) => e.slice(0, 3)), [
    ['field_update', 'meta.column', 'public.person.name'],
    ['row_delete', 'meta.column', 'public.person.name'],
  ]);
  assert.deepEqual((await takeDdl(db.pool, c)).filter((e) => e[0] === 'field_update'), [
    ['field_update', 'meta.column', 'public.person.name', { default: "'x'::text" }],
    ['field_update', 'meta.column', 'public.person.id', { default: '0' }],
  ]);
});

test('DDL costs nothing when no one subscribes to a meta view: no log rows, the snapshot untouched', async () => {
  await db.pool.query('DELETE FROM event.session');
  const before = await db.pool.query('SELECT (SELECT count(*) FROM event.change) AS c, (SELECT count(*) FROM event.catalog_snapshot) AS s');
  await db.pool.query('CREATE TABLE public.pet (id int); ALTER TABLE public.pet ADD COLUMN x int; DROP TABLE public.pet');
  const later = await db.pool.query('SELECT (SELECT count(*) FROM event.change) AS c, (SELECT count(*) FROM event.catalog_snapshot) AS s');
  assert.deepEqual(later.rows, before.rows);
  // the first meta subscription brings the snapshot up to date, without events
  const s = await metaSession(db.pool, ['relation']);
  await db.pool.query('CREATE TABLE public.pet (id int)');
  assert.deepEqual(await takeDdl(db.pool, s), [
    ['row_insert', 'meta.relation', 'public.pet', { schema_name: 'public', name: 'pet', kind: 'table' }],
  ]);
  await db.pool.query('DROP TABLE public.pet');
});

test('a DDL whose events cannot be made still commits, and the failure is recorded', async () => {
  // make the diff fail: a snapshot row of a meta view that the change log will not take
  await db.pool.query(`ALTER TABLE event.change ADD CONSTRAINT aqevent_test_fail CHECK (new_row NOT LIKE '%doomed%')`);
  try {
    await db.pool.query('CREATE TABLE public.doomed (id int)');
    const { rows } = await db.pool.query("SELECT to_regclass('public.doomed') IS NOT NULL AS made");
    assert.equal(rows[0].made, true);
    const failures = await db.pool.query('SELECT command_tag, sqlstate FROM event.ddl_failures()');
    assert.deepEqual(failures.rows[0], { command_tag: 'CREATE TABLE', sqlstate: '23514' });
    assert.deepEqual(await takeDdl(db.pool, session), []);
  } finally {
    await db.pool.query('ALTER TABLE event.change DROP CONSTRAINT aqevent_test_fail; DROP TABLE IF EXISTS public.doomed');
  }
});

test('what a command changes elsewhere is in its events: a view dropped by CASCADE, partitions, a row type renamed', async () => {
  await ddl('CREATE VIEW public.names AS SELECT name FROM public.person');
  assert.deepEqual(await ddl('ALTER TABLE public.person DROP COLUMN name CASCADE'), [
    ['row_delete', 'meta.column', 'public.names.name', column('public.names', 'name', 'text', 1)],
    ['row_delete', 'meta.column', 'public.person.name', column('public.person', 'name', 'text', 2)],
    ['row_delete', 'meta.relation', 'public.names', { schema_name: 'public', name: 'names', kind: 'view' }],
  ]);
  await ddl('CREATE SCHEMA app; CREATE TABLE app.m (id int) PARTITION BY RANGE (id); CREATE TABLE app.m1 PARTITION OF app.m FOR VALUES FROM (0) TO (10)');
  assert.deepEqual(await ddl('ALTER TABLE app.m ADD COLUMN v int'), [
    ['row_insert', 'meta.column', 'app.m.v', column('app.m', 'v', 'integer', 2)],
    ['row_insert', 'meta.column', 'app.m1.v', column('app.m1', 'v', 'integer', 2)],
  ]);
  await ddl('CREATE TABLE app.uses (p public.person)');
  const renamed = await ddl('ALTER TABLE public.person RENAME TO human');
  assert.deepEqual(renamed.filter(([, , name]) => name === 'app.uses.p'), [
    ['field_update', 'meta.column', 'app.uses.p', { type: 'public.human' }],
  ]);
  await db.pool.query('DROP SCHEMA app CASCADE; ALTER TABLE public.human RENAME TO person');
});
