// Keys of every kind, and names that need quoting, on every grain.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, summary } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

test('uuid primary key', async () => {
  await db.pool.query('CREATE TABLE by_uuid (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), v text)');
  const session = await newSession(db.pool);
  const { rows } = await db.pool.query("INSERT INTO by_uuid (v) VALUES ('a') RETURNING id");
  const id = rows[0].id as string;
  await db.pool.query(`SELECT event.subscribe_table($1, meta.relation_id('public', 'by_uuid')),
                              event.subscribe_row($1, meta.row_id('public', 'by_uuid', 'id', upper($2)))`, [session, id]);
  await db.pool.query("UPDATE by_uuid SET v = 'b'");
  await db.pool.query("INSERT INTO by_uuid (v) VALUES ('c')");
  const events = await queued(db.pool, session);
  assert.deepEqual(events.slice(0, 2).map(summary), [['field_update', id, { v: 'b' }], ['field_update', id, { v: 'b' }]]);
  assert.equal(events[2]!.operation, 'row_insert');
});

test('text primary key with quotes, spaces and unicode', async () => {
  await db.pool.query('CREATE TABLE by_text (code text PRIMARY KEY, v int)');
  const key = `it's "ünïcødé" ; DROP TABLE by_text; --`;
  await db.pool.query('INSERT INTO by_text VALUES ($1, 1)', [key]);
  const session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_field($1, meta.field_id('public', 'by_text', 'code', $2, 'v'))", [session, key]);
  await db.pool.query('UPDATE by_text SET v = 2');
  await db.pool.query('DELETE FROM by_text');
  assert.deepEqual((await queued(db.pool, session)).map(summary), [
    ['field_update', key, { v: 2 }],
    ['row_delete', key, { code: key }],
  ]);
});

test('composite primary key: identifier, matching, and the JSON form', async () => {
  await db.pool.query(`CREATE TABLE order_line (order_id int, line_no int, sku text, PRIMARY KEY (order_id, line_no));
                       INSERT INTO order_line VALUES (7, 1, 'x'), (7, 2, 'y'), (8, 2, 'z');`);
  const session = await newSession(db.pool);
  // Names in any order are accepted; the identifier is normalised to key order.
  await db.pool.query(`SELECT event.subscribe_row($1, meta.row_id('public', 'order_line', ARRAY['line_no', 'order_id'], ARRAY['2', '7'])),
                              event.subscribe_table($1, meta.relation_id('public', 'order_line'))`, [session]);
  await db.pool.query("UPDATE order_line SET sku = 'Y' WHERE order_id = 7 AND line_no = 2");
  await db.pool.query("UPDATE order_line SET sku = 'Z' WHERE order_id = 8");
  const events = await queued(db.pool, session);
  assert.deepEqual(events.map((e) => [e.subscription_type, e.row_id.pk_value, e.payload]), [
    ['table', ['7', '2'], { sku: 'Y' }],
    ['row', ['7', '2'], { sku: 'Y' }],
    ['table', ['8', '2'], { sku: 'Z' }],
  ]);
  const column = (name: string) => ({ relation_id: { schema_id: { name: 'public' }, name: 'order_line' }, name });
  assert.deepEqual(events[0]!.row_id, { pk_column_id: [column('order_id'), column('line_no')], pk_value: ['7', '2'] });
  const { rows } = await db.pool.query("SELECT meta.row_id('public', 'order_line', ARRAY['order_id', 'line_no'], ARRAY['7', '2'])::jsonb AS j");
  assert.deepEqual(rows[0].j, events[0]!.row_id, 'the constructor builds the same identifier');
});

test('mixed-case, quoted and reserved-word schema, table and column names', async () => {
  await db.pool.query(`CREATE SCHEMA "My Schema";
    CREATE TABLE "My Schema"."Select" ("Order" int PRIMARY KEY, "from" text, "we""ird col" int);
    INSERT INTO "My Schema"."Select" VALUES (1, 'a', 1);`);
  const session = await newSession(db.pool);
  await db.pool.query(`SELECT event.subscribe_table($1, meta.relation_id('My Schema', 'Select')),
    event.subscribe_row($1, meta.row_id('My Schema', 'Select', 'Order', '1')),
    event.subscribe_field($1, meta.field_id('My Schema', 'Select', 'Order', '1', 'we"ird col')),
    event.subscribe_column($1, meta.column_id('My Schema', 'Select', 'from'))`, [session]);
  await db.pool.query(`UPDATE "My Schema"."Select" SET "we""ird col" = 2, "from" = 'b';
                       INSERT INTO "My Schema"."Select" VALUES (2, 'c', 3);`);
  const events = await queued(db.pool, session);
  // Order is guaranteed per subscription (docs/guarantees.md), so compare each one's stream.
  const stream = (type: string) => events.filter((e) => e.subscription_type === type).map((e) => [e.operation, e.payload]);
  const inserted = { Order: 2, from: 'c', 'we"ird col': 3 };
  assert.deepEqual(stream('table'), [
    ['field_update', { from: 'b' }], ['field_update', { 'we"ird col': 2 }], ['row_insert', inserted]]);
  assert.deepEqual(stream('column'), [['field_update', { from: 'b' }], ['row_insert', inserted]]);
  assert.deepEqual(stream('row'), [['field_update', { from: 'b' }], ['field_update', { 'we"ird col': 2 }]]);
  assert.deepEqual(stream('field'), [['field_update', { 'we"ird col': 2 }]]);
  assert.deepEqual(events[0]!.relation_id, { schema_id: { name: 'My Schema' }, name: 'Select' });
});

test('a partitioned table is captured through its parent', async () => {
  await db.pool.query(`CREATE TABLE measurement (id int, day date, v int, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
    CREATE TABLE measurement_2026 PARTITION OF measurement FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');`);
  const session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'measurement', ARRAY['id', 'day'], ARRAY['1', '2026-03-01']))", [session]);
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'measurement'))", [session]);
  await db.pool.query("INSERT INTO measurement VALUES (1, '2026-03-01', 5)");
  await db.pool.query("UPDATE measurement SET v = 6");
  assert.deepEqual((await queued(db.pool, session)).map((e) => [e.subscription_type, e.operation, e.row_id.pk_value]), [
    ['table', 'row_insert', ['1', '2026-03-01']],
    ['table', 'field_update', ['1', '2026-03-01']],
    ['row', 'field_update', ['1', '2026-03-01']],
  ]);
});

test('columns named like the aliases and variables of the capture SQL change nothing', async () => {
  const names = ['n', 'o', 'r', 'j', 'key', 's', 'c', 'e', 'm', 'p', 'v', 'kind', 'payload', 'hidden', 'session_id', 'ctx', 'pk1', 'tx', 'operation', 'column_name'];
  await db.pool.query(`CREATE TABLE shadow (id int PRIMARY KEY, ${names.map((n) => `"${n}" text`).join(', ')})`);
  const session = await newSession(db.pool);
  await db.pool.query(`SELECT event.subscribe_table($1, meta.relation_id('public', 'shadow')),
                              event.subscribe_row($1, meta.row_id('public', 'shadow', 'id', '1'))`, [session]);
  await db.pool.query(`INSERT INTO shadow (id, ${names.map((n) => `"${n}"`).join(', ')}) VALUES (1, ${names.map((n) => `'${n}'`).join(', ')})`);
  await db.pool.query(`UPDATE shadow SET "n" = 'N', "key" = 'K'`);
  await db.pool.query('DELETE FROM shadow');
  const events = await queued(db.pool, session);
  assert.deepEqual(events.map((e) => [e.subscription_type, e.operation]), [
    ['table', 'row_insert'],
    ['table', 'field_update'], ['table', 'field_update'],
    ['row', 'field_update'], ['row', 'field_update'],
    ['table', 'row_delete'], ['row', 'row_delete'],
  ]);
  assert.equal(Object.keys(events[0]!.payload).length, names.length + 1);
});
