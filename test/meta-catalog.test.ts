// The catalog views meta.schema, meta.relation and meta.column: their rows,
// what each role sees of them, who gets which DDL events, and which
// relations cannot be subscribed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { metaSession, takeDdl } from './support/ddl.js';
import { createRoles, endRoles, sqlstateOf, type TestRole } from './support/roles.js';

let db: TestDatabase;
let r: Record<'alice' | 'bob', TestRole>;

before(async () => {
  db = await createTestDatabase();
  r = await createRoles(db, ['alice', 'bob'] as const);
  await db.pool.query(`
    GRANT aqevent_user TO ${r.alice.sql}, ${r.bob.sql};
    CREATE SCHEMA hidden;
    CREATE TABLE hidden.t (id int PRIMARY KEY);
    CREATE TABLE public.person (id int PRIMARY KEY, name text NOT NULL DEFAULT 'x', secret text);
    CREATE TABLE public.private (id int PRIMARY KEY);
    CREATE VIEW public.person_view AS SELECT id, name FROM public.person;
    CREATE MATERIALIZED VIEW public.person_mat AS SELECT id FROM public.person;
    GRANT SELECT ON public.person TO ${r.alice.sql};
    GRANT SELECT (id, name) ON public.person TO ${r.bob.sql};`);
});
after(async () => {
  await endRoles(r);
  await db.drop();
});

test('meta.column: the columns with type, nullability, default and position; ids are meta.column_ids', async () => {
  const { rows } = await db.pool.query(`
    SELECT id, relation_id, name, type, nullable, "default", position,
           id = meta.column_id(schema_name, relation_name, name)::jsonb AS id_matches,
           pg_typeof(id)::text AS id_type
    FROM meta.column WHERE schema_name = 'public' AND relation_name = 'person' ORDER BY position`);
  assert.deepEqual(rows.map((c) => [c.name, c.type, c.nullable, c.default, c.position, c.id_matches, c.id_type]), [
    ['id', 'integer', false, null, 1, true, 'meta.column_id'],
    ['name', 'text', false, "'x'::text", 2, true, 'meta.column_id'],
    ['secret', 'text', true, null, 3, true, 'meta.column_id'],
  ]);
  assert.deepEqual(rows[0].relation_id, { schema_id: { name: 'public' }, name: 'person' });
});

test('meta.relation and meta.schema: kinds, ids, no system schemas', async () => {
  const { rows } = await db.pool.query(`
    SELECT name, kind, pg_typeof(id)::text AS id_type FROM meta.relation WHERE schema_name = 'public' ORDER BY name`);
  assert.deepEqual(rows, [
    { name: 'person', kind: 'table', id_type: 'meta.relation_id' },
    { name: 'person_mat', kind: 'materialized_view', id_type: 'meta.relation_id' },
    { name: 'person_view', kind: 'view', id_type: 'meta.relation_id' },
    { name: 'private', kind: 'table', id_type: 'meta.relation_id' },
  ]);
  const schemas = (await db.pool.query('SELECT name FROM meta.schema ORDER BY name')).rows.map((s) => s.name);
  assert.ok(schemas.includes('public') && schemas.includes('hidden'));
  assert.ok(!schemas.includes('pg_catalog') && !schemas.includes('information_schema'));
  assert.ok(!schemas.some((s: string) => s.startsWith('pg_toast') || s.startsWith('pg_temp')));
});

test('each role sees only what it has some privilege on, as information_schema does', async () => {
  const seen = async (role: TestRole, sql: string) => (await role.pool.query(sql)).rows.map((x) => x.name);
  assert.deepEqual(await seen(r.alice, "SELECT name FROM meta.relation WHERE schema_name IN ('public', 'hidden') ORDER BY name"),
    ['person']);
  assert.deepEqual(await seen(r.bob, "SELECT name FROM meta.column WHERE relation_name = 'person' ORDER BY position"),
    ['id', 'name']);
  assert.deepEqual(await seen(r.alice, "SELECT name FROM meta.column WHERE relation_name = 'person' ORDER BY position"),
    ['id', 'name', 'secret']);
  assert.deepEqual(await seen(r.alice, "SELECT name FROM meta.schema WHERE name IN ('public', 'hidden')"), ['public']);
  for (const role of [r.alice, r.bob]) {
    const { rows } = await role.pool.query(`
      SELECT (SELECT count(*) FROM meta.column WHERE schema_name = 'public')
           = (SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public') AS same`);
    assert.equal(rows[0].same, true);
  }
});

test('a role gets DDL events only of objects it may see', async () => {
  const alice = await metaSession(r.alice.pool);
  const bob = await metaSession(r.bob.pool, ['column']);
  await db.pool.query(`
    ALTER TABLE public.person ADD COLUMN age integer;
    ALTER TABLE public.private ADD COLUMN note text;
    ALTER TABLE hidden.t ADD COLUMN x int;
    DROP TABLE public.private;`);
  const names = (events: Array<[string, string, string, unknown]>) => events.map(([op, view, name]) => `${op} ${view} ${name}`);
  assert.deepEqual(names(await takeDdl(r.alice.pool, alice)), ['row_insert meta.column public.person.age']);
  assert.deepEqual(names(await takeDdl(r.bob.pool, bob)), []);
  // bob may see the new column once granted: the grant itself is no event, the next change is
  await db.pool.query(`GRANT SELECT (age) ON public.person TO ${r.bob.sql}; ALTER TABLE public.person ALTER COLUMN age TYPE bigint`);
  assert.deepEqual(names(await takeDdl(r.bob.pool, bob)), ['field_update meta.column public.person.age']);
  // a dropped table's events reach those who could see it when it was dropped
  await db.pool.query('CREATE TABLE public.gone (id int)');
  await db.pool.query(`GRANT SELECT ON public.gone TO ${r.alice.sql}`);
  await takeDdl(r.alice.pool, alice);
  await db.pool.query('DROP TABLE public.gone');
  assert.deepEqual(names(await takeDdl(r.alice.pool, alice)), [
    'row_delete meta.column public.gone.id', 'row_delete meta.relation public.gone']);
  assert.deepEqual(names(await takeDdl(r.bob.pool, bob)), []);
});

test('meta views can be subscribed at every grain by any aqevent_user; other views, matviews and foreign tables cannot', async () => {
  const session = (await r.bob.pool.query('SELECT event.session_create() AS id')).rows[0].id;
  for (const view of ['schema', 'relation', 'column']) {
    await r.bob.pool.query("SELECT event.subscribe_table($1, meta.relation_id('meta', $2))", [session, view]);
  }
  await r.bob.pool.query("SELECT event.subscribe_column($1, meta.column_id('meta', 'column', 'type'))", [session]);
  await r.bob.pool.query("SELECT event.subscribe_table($1, 'meta.column')", [session]);
  await db.pool.query(`
    CREATE EXTENSION IF NOT EXISTS postgres_fdw;
    CREATE SERVER IF NOT EXISTS elsewhere FOREIGN DATA WRAPPER postgres_fdw;
    CREATE FOREIGN TABLE public.remote (id int) SERVER elsewhere;`).catch(() => undefined);
  const relations = ['person_view', 'person_mat', ...(await db.pool.query("SELECT 1 FROM pg_class WHERE relname = 'remote'")).rowCount ? ['remote'] : []];
  for (const name of relations) {
    await assert.rejects(db.pool.query("SELECT event.subscribe_table(event.session_create(), meta.relation_id('public', $1))", [name]),
      (error: any) => error.code === '42809' && /is not a table \(it is a (view|materialized view|foreign table)\)/.test(error.message));
  }
  assert.equal(await sqlstateOf(r.bob.pool.query("SELECT event.enable_capture('meta.column')")), '42501');
  // the views themselves cannot be written to through aqevent
  assert.equal(await sqlstateOf(r.bob.pool.query("SELECT event.subscribe_table($1, meta.relation_id('event', 'shape'))", [session])), '0A000');
});

test('DDL by an ordinary role: its events are made, and sessions it may not read do not make it fail', async () => {
  await db.pool.query(`CREATE SCHEMA owned AUTHORIZATION ${r.alice.sql}`);
  await r.alice.pool.query('CREATE TABLE owned.item (id int PRIMARY KEY, label text)');
  await r.alice.pool.query(`GRANT USAGE ON SCHEMA owned TO ${r.bob.sql}; GRANT SELECT ON owned.item TO ${r.bob.sql}`);
  await r.alice.pool.query("SELECT event.enable_capture('owned.item')");
  const bob = (await r.bob.pool.query('SELECT event.session_create() AS id')).rows[0].id as string;
  await r.bob.pool.query("SELECT event.subscribe_column($1, meta.column_id('owned', 'item', 'label'))", [bob]);
  const meta = await metaSession(r.bob.pool, ['column']);
  await r.alice.pool.query("INSERT INTO owned.item VALUES (1, 'a')");
  await r.alice.pool.query('ALTER TABLE owned.item RENAME COLUMN label TO title');
  await r.alice.pool.query("UPDATE owned.item SET title = 'b'");
  const { rows } = await r.bob.pool.query('SELECT event FROM event.queue WHERE session_id = $1 ORDER BY id', [bob]);
  // bob's session was not alice's to collect: the insert committed before the rename is matched after it
  assert.deepEqual(rows.map((x) => [x.event.operation, x.event.payload]), [
    ['row_insert', { id: 1, label: 'a' }],
    ['field_update', { title: 'b' }],
  ]);
  const names = (await takeDdl(r.bob.pool, meta)).map(([op, , name]) => `${op} ${name}`);
  assert.deepEqual(names, ['row_delete owned.item.label', 'row_insert owned.item.title']);
  await r.alice.pool.query('DROP TABLE owned.item');
  assert.deepEqual((await takeDdl(r.bob.pool, meta)).map(([op, , name]) => `${op} ${name}`),
    ['row_delete owned.item.id', 'row_delete owned.item.title']);
});
