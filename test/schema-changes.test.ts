// Subscriptions on user tables under ALTER, RENAME and DROP: one test a rule
// of docs/concepts.md ("Schema changes").
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { metaSession, takeDdl } from './support/ddl.js';
import { newSession, queued, summary } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());
beforeEach(async () => {
  await db.pool.query(`
    DELETE FROM event.session;
    DROP TABLE IF EXISTS person, human CASCADE;
    CREATE TABLE person (id int PRIMARY KEY, name text, score int);
    INSERT INTO person VALUES (1, 'Joe', 15), (2, 'Don', 12);`);
});

async function subscribed(sql: string, ...args: unknown[]): Promise<string> {
  const session = await newSession(db.pool);
  await db.pool.query(sql, [session, ...args]);
  return session;
}

const subscriptions = async (session: string) =>
  (await db.pool.query('SELECT kind, column_name FROM event.subscription WHERE session_id = $1 ORDER BY kind, column_name', [session])).rows;

test('renamed table: the subscription follows it; later events carry the new name, earlier ones the old', async () => {
  const s = await subscribed("SELECT event.subscribe_table($1, 'person')");
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE id = 1");
  await db.pool.query('ALTER TABLE person RENAME TO human');
  await db.pool.query("UPDATE human SET name = 'Donald' WHERE id = 2");
  const events = await queued(db.pool, s);
  assert.deepEqual(events.map((e) => [e.relation_id.name, ...summary(e)]), [
    ['person', 'field_update', '1', { name: 'Joseph' }],
    ['human', 'field_update', '2', { name: 'Donald' }],
  ]);
});

test('renamed column: field and column subscriptions follow it, later events carry the new name', async () => {
  const field = await subscribed("SELECT event.subscribe_field($1, meta.field_id('public', 'person', 'id', '1', 'name'))");
  const column = await subscribed("SELECT event.subscribe_column($1, meta.column_id('public', 'person', 'name'))");
  const table = await subscribed("SELECT event.subscribe_table($1, 'person')");
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE id = 1");
  await db.pool.query('ALTER TABLE person RENAME COLUMN name TO full_name');
  await db.pool.query("UPDATE person SET full_name = 'Joe' WHERE id = 1");
  const expected = [['field_update', '1', { name: 'Joseph' }], ['field_update', '1', { full_name: 'Joe' }]];
  for (const s of [field, column, table]) assert.deepEqual((await queued(db.pool, s)).map(summary), expected);
  assert.deepEqual(await subscriptions(field), [{ kind: 'field', column_name: 'full_name' }]);
  const { rows } = await db.pool.query('SELECT target FROM event.subscription WHERE session_id = $1', [column]);
  assert.equal(rows[0].target.name, 'full_name');
});

test('new column: in row_insert payloads and field_updates; subscriptions on other columns untouched', async () => {
  const table = await subscribed("SELECT event.subscribe_table($1, 'person')");
  const score = await subscribed("SELECT event.subscribe_column($1, meta.column_id('public', 'person', 'score'))");
  await db.pool.query('ALTER TABLE person ADD COLUMN age int');
  await db.pool.query("INSERT INTO person VALUES (3, 'Sandy', 16, 40); UPDATE person SET age = 41 WHERE id = 3");
  assert.deepEqual((await queued(db.pool, table)).map(summary), [
    ['row_insert', '3', { id: 3, name: 'Sandy', score: 16, age: 40 }],
    ['field_update', '3', { age: 41 }],
  ]);
  assert.deepEqual((await queued(db.pool, score)).map(summary), [
    ['row_insert', '3', { id: 3, name: 'Sandy', score: 16, age: 40 }],
  ]);
});

test('dropped column: its subscriptions end, the others stay', async () => {
  const s = await newSession(db.pool);
  await db.pool.query(`SELECT event.subscribe_column($1, meta.column_id('public', 'person', 'score')),
                              event.subscribe_field($1, meta.field_id('public', 'person', 'id', '1', 'score')),
                              event.subscribe_field($1, meta.field_id('public', 'person', 'id', '1', 'name'))`, [s]);
  await db.pool.query('UPDATE person SET score = 99 WHERE id = 1');
  await db.pool.query('ALTER TABLE person DROP COLUMN score');
  assert.deepEqual(await subscriptions(s), [{ kind: 'field', column_name: 'name' }]);
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE id = 1");
  // the event captured before the drop is still delivered, as captured
  assert.deepEqual((await queued(db.pool, s)).map(summary), [
    ['field_update', '1', { score: 99 }],
    ['field_update', '1', { score: 99 }],
    ['field_update', '1', { name: 'Joseph' }],
  ]);
});

test('column type changed: later events carry the new type\'s JSON, earlier ones the old', async () => {
  const s = await subscribed("SELECT event.subscribe_table($1, 'person')");
  await db.pool.query('UPDATE person SET score = 20 WHERE id = 1');
  await db.pool.query('ALTER TABLE person ALTER COLUMN score TYPE text');
  await db.pool.query("UPDATE person SET score = '21' WHERE id = 1");
  assert.deepEqual((await queued(db.pool, s)).map(summary), [
    ['field_update', '1', { score: 20 }],
    ['field_update', '1', { score: '21' }],
  ]);
});

test('dropped table: its subscriptions end; a meta.relation subscriber learns of it; what was collected stays', async () => {
  const table = await subscribed("SELECT event.subscribe_table($1, 'person')");
  const meta = await metaSession(db.pool, ['relation']);
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE id = 1");
  assert.equal((await queued(db.pool, table)).length, 1); // collected
  await db.pool.query('DROP TABLE person');
  assert.deepEqual(await subscriptions(table), []);
  assert.deepEqual((await queued(db.pool, table)).map(summary), [['field_update', '1', { name: 'Joseph' }]]);
  assert.deepEqual(await takeDdl(db.pool, meta), [
    ['row_delete', 'meta.relation', 'public.person', { schema_name: 'public', name: 'person', kind: 'table' }],
  ]);
});

test('primary key renamed: row subscriptions stay and match', async () => {
  const s = await subscribed("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', '1'))");
  await db.pool.query('ALTER TABLE person RENAME COLUMN id TO person_id');
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE person_id = 1");
  assert.deepEqual(await subscriptions(s), [{ kind: 'row', column_name: null }]);
  const events = await queued(db.pool, s);
  assert.deepEqual(events.map(summary), [['field_update', '1', { name: 'Joseph' }]]);
  assert.equal(events[0]!.row_id.pk_column_id.name, 'person_id');
});

test('primary key dropped or changed: row and field subscriptions end, table and column ones stay', async () => {
  const s = await newSession(db.pool);
  await db.pool.query(`SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', '1')),
                              event.subscribe_field($1, meta.field_id('public', 'person', 'id', '1', 'name')),
                              event.subscribe_table($1, 'person')`, [s]);
  await db.pool.query('ALTER TABLE person DROP CONSTRAINT person_pkey');
  assert.deepEqual(await subscriptions(s), [{ kind: 'table', column_name: null }]);
  // without a key: an UPDATE is a row_delete then a row_insert, with row_id null
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE id = 1");
  assert.deepEqual((await queued(db.pool, s)).map(summary), [
    ['row_delete', null, { id: 1, name: 'Joe', score: 15 }],
    ['row_insert', null, { id: 1, name: 'Joseph', score: 15 }],
  ]);
  const t = await newSession(db.pool);
  await db.pool.query('ALTER TABLE person ADD PRIMARY KEY (id)');
  await db.pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', '1'))", [t]);
  await db.pool.query('ALTER TABLE person DROP CONSTRAINT person_pkey, ADD PRIMARY KEY (name)');
  assert.deepEqual(await subscriptions(t), []);
});
