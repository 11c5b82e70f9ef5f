// How writes become events: transactions, updates, key changes, TRUNCATE, tables without keys.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { listen, newSession, queued, summary, oidOf } from './support/events.js';

let db: TestDatabase;
let session: string;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());
beforeEach(async () => {
  await db.pool.query(`
    DROP TABLE IF EXISTS item, loose;
    CREATE TABLE item (id int PRIMARY KEY, label text, qty int);
    INSERT INTO item VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3);
    CREATE TABLE loose (label text, qty int);
    INSERT INTO loose VALUES ('x', 1), ('x', 1), ('y', 2);`);
  session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'item'))", [session]);
});

test('a rolled-back transaction leaves no event; a committed one leaves all of them', async () => {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("INSERT INTO item VALUES (10, 'r', 0)");
    await client.query('UPDATE item SET qty = 100');
    await client.query('ROLLBACK');
    assert.deepEqual(await queued(db.pool, session), []);
    await client.query('BEGIN');
    await client.query("INSERT INTO item VALUES (10, 'r', 0)");
    await client.query('UPDATE item SET qty = 100 WHERE id IN (1, 10)');
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  assert.deepEqual((await queued(db.pool, session)).map(summary), [
    ['row_insert', '10', { id: 10, label: 'r', qty: 0 }],
    ['field_update', '1', { qty: 100 }],
    ['field_update', '10', { qty: 100 }],
  ]);
});

test('an UPDATE that changes nothing yields nothing; only changed columns yield events', async () => {
  await db.pool.query('UPDATE item SET label = label, qty = qty');
  await db.pool.query("UPDATE item SET label = 'a', qty = 7 WHERE id = 1");
  assert.deepEqual((await queued(db.pool, session)).map(summary), [['field_update', '1', { qty: 7 }]]);
});

test('x → y → x in one transaction is three events, and one wake-up', async () => {
  const listener = await listen(db.url);
  try {
    await db.pool.query(`BEGIN;
      UPDATE item SET label = 'y' WHERE id = 1;
      UPDATE item SET label = 'a' WHERE id = 1;
      UPDATE item SET label = 'y' WHERE id = 1;
      COMMIT;`);
    const events = await queued(db.pool, session);
    assert.deepEqual(events.map(summary), [
      ['field_update', '1', { label: 'y' }],
      ['field_update', '1', { label: 'a' }],
      ['field_update', '1', { label: 'y' }],
    ]);
    const notes = await listener.next(3, 1000);
    assert.deepEqual(notes, [await oidOf(db.pool, 'item')], 'one wake-up for the transaction, naming the table');
  } finally {
    await listener.close();
  }
});

test('a primary-key change is row_delete of the old row, then row_insert of the new one', async () => {
  await db.pool.query("UPDATE item SET id = 20, label = 'moved' WHERE id = 2");
  assert.deepEqual((await queued(db.pool, session)).map(summary), [
    ['row_delete', '2', { id: 2 }],
    ['row_insert', '20', { id: 20, label: 'moved', qty: 2 }],
  ]);
});

test('a bulk statement queues every event and sends one wake-up', async () => {
  const listener = await listen(db.url);
  try {
    await db.pool.query("INSERT INTO item SELECT g, 'bulk', g FROM generate_series(100, 1099) g");
    const events = await queued(db.pool, session);
    assert.equal(events.length, 1000);
    assert.deepEqual(events.map((e) => e.payload.id), Array.from({ length: 1000 }, (_, i) => 100 + i));
    assert.deepEqual(await listener.next(2, 1000), [await oidOf(db.pool, 'item')]);
  } finally {
    await listener.close();
  }
});

test('TRUNCATE: table and column grains get one truncate event, row and field grains a row_delete', async () => {
  const rowSession = await newSession(db.pool);
  await db.pool.query(`SELECT event.subscribe_row($1, meta.row_id('public', 'item', 'id', '2')),
                              event.subscribe_field($1, meta.field_id('public', 'item', 'id', '3', 'qty')),
                              event.subscribe_column($1, meta.column_id('public', 'item', 'qty'))`, [rowSession]);
  await db.pool.query('TRUNCATE item');
  const events = await queued(db.pool, session);
  assert.deepEqual(events.map((e) => [e.operation, e.row_id, e.payload]), [['truncate', null, null]]);
  const rowEvents = await queued(db.pool, rowSession);
  assert.deepEqual(rowEvents.map((e) => [e.operation, e.subscription_type, e.row_id?.pk_value ?? null]).sort(), [
    ['row_delete', 'field', '3'],
    ['row_delete', 'row', '2'],
    ['truncate', 'column', null],
  ]);
});

test('a table without a primary key: table grain works, rows have no row_id, an UPDATE is delete + insert', async () => {
  const keyless = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'loose'))", [keyless]);
  await db.pool.query("INSERT INTO loose VALUES ('z', 3)");
  await db.pool.query("UPDATE loose SET qty = 5 WHERE label = 'x'");
  await db.pool.query("DELETE FROM loose WHERE label = 'y'");
  assert.deepEqual((await queued(db.pool, keyless)).map((e) => [e.operation, e.row_id, e.payload]), [
    ['row_insert', null, { label: 'z', qty: 3 }],
    ['row_delete', null, { label: 'x', qty: 1 }],
    ['row_insert', null, { label: 'x', qty: 5 }],
    ['row_delete', null, { label: 'x', qty: 1 }],
    ['row_insert', null, { label: 'x', qty: 5 }],
    ['row_delete', null, { label: 'y', qty: 2 }],
  ]);
});

test('row and field subscriptions on a table without a key are refused with a clear error', async () => {
  await assert.rejects(
    db.pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'loose', 'label', 'x'))", [session]),
    (error: Error & { code?: string }) => error.code === '55000' && /loose has no primary key/.test(error.message));
  await assert.rejects(
    db.pool.query("SELECT event.subscribe_field($1, meta.field_id('public', 'loose', 'label', 'x', 'qty'))", [session]),
    (error: Error & { code?: string }) => error.code === '55000');
});
