// What each subscription grain generates, and that every matching one fires.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, summary } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());
beforeEach(async () => {
  await db.pool.query(`
    DROP TABLE IF EXISTS person;
    CREATE TABLE person (id int PRIMARY KEY, name text, score int);
    INSERT INTO person VALUES (1, 'Joe', 15), (2, 'Don', 12), (3, 'Sandy', 16);`);
});

const WORKLOAD = `
  INSERT INTO person VALUES (4, 'Nancy', 9);
  UPDATE person SET name = 'Joseph', score = 20 WHERE id = 1;
  UPDATE person SET score = 13 WHERE id = 2;
  DELETE FROM person WHERE id = 1;
  DELETE FROM person WHERE id = 2;`;

async function eventsOf(subscribe: string, ...args: unknown[]) {
  const session = await newSession(db.pool);
  await db.pool.query(subscribe, [session, ...args]);
  await db.pool.query(WORKLOAD);
  return (await queued(db.pool, session)).map(summary);
}

test('table grain: inserts, deletes and field updates of every column', async () => {
  assert.deepEqual(await eventsOf("SELECT event.subscribe_table($1, meta.relation_id('public', 'person'))"), [
    ['row_insert', '4', { id: 4, name: 'Nancy', score: 9 }],
    ['field_update', '1', { name: 'Joseph' }],
    ['field_update', '1', { score: 20 }],
    ['field_update', '2', { score: 13 }],
    ['row_delete', '1', { id: 1 }],
    ['row_delete', '2', { id: 2 }],
  ]);
});

test('row grain: field updates and the delete of that row only', async () => {
  assert.deepEqual(await eventsOf("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', '1'))"), [
    ['field_update', '1', { name: 'Joseph' }],
    ['field_update', '1', { score: 20 }],
    ['row_delete', '1', { id: 1 }],
  ]);
});

test('field grain: updates of that column of that row, and its delete', async () => {
  assert.deepEqual(await eventsOf("SELECT event.subscribe_field($1, meta.field_id('public', 'person', 'id', '1', 'score'))"), [
    ['field_update', '1', { score: 20 }],
    ['row_delete', '1', { id: 1 }],
  ]);
});

test('column grain: updates of that column of every row, inserts and deletes', async () => {
  assert.deepEqual(await eventsOf("SELECT event.subscribe_column($1, meta.column_id('public', 'person', 'score'))"), [
    ['row_insert', '4', { id: 4, name: 'Nancy', score: 9 }],
    ['field_update', '1', { score: 20 }],
    ['field_update', '2', { score: 13 }],
    ['row_delete', '1', { id: 1 }],
    ['row_delete', '2', { id: 2 }],
  ]);
});

test('a key given as "01" names the integer row 1', async () => {
  const events = await eventsOf("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', '01'))");
  assert.equal(events.length, 3);
  assert.ok(events.every(([, key]) => key === '1'));
});

test('every matching subscription fires: several of one session, and many sessions on one row', async () => {
  const session = await newSession(db.pool);
  const subs = await db.pool.query(`SELECT
      event.subscribe_table($1, meta.relation_id('public', 'person')) AS t,
      event.subscribe_row($1, meta.row_id('public', 'person', 'id', '2')) AS r,
      event.subscribe_field($1, meta.field_id('public', 'person', 'id', '2', 'score')) AS f,
      event.subscribe_column($1, meta.column_id('public', 'person', 'score')) AS c`, [session]);
  const others = await Promise.all(Array.from({ length: 5 }, () => newSession(db.pool)));
  for (const other of others) {
    await db.pool.query("SELECT event.subscribe_row($1, meta.row_id('public', 'person', 'id', '2'))", [other]);
  }
  await db.pool.query('UPDATE person SET score = 99 WHERE id = 2');

  const events = await queued(db.pool, session);
  assert.deepEqual(events.map((e) => e.subscription_id).sort(), Object.values(subs.rows[0]).sort());
  assert.ok(events.every((e) => e.operation === 'field_update' && e.payload.score === 99));
  for (const other of others) {
    assert.deepEqual((await queued(db.pool, other)).map(summary), [['field_update', '2', { score: 99 }]]);
  }
});

test('subscribing twice returns the existing subscription', async () => {
  const session = await newSession(db.pool);
  const q = "SELECT event.subscribe_field($1, meta.field_id('public', 'person', 'id', '1', 'name')) AS id";
  const first = (await db.pool.query(q, [session])).rows[0].id;
  const second = (await db.pool.query(q, [session])).rows[0].id;
  assert.equal(first, second);
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM event.subscription WHERE session_id = $1', [session]);
  assert.equal(rows[0].n, 1);
});

test('unsubscribe stops events at once; triggers left without subscriptions go with the next maintenance pass', async () => {
  const triggers = async () =>
    (await db.pool.query("SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'person'::regclass AND tgname LIKE 'aqevent%'")).rows[0].n;
  assert.equal(await triggers(), 0);
  const a = await newSession(db.pool);
  const b = await newSession(db.pool);
  const subA = (await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'person')) AS id", [a])).rows[0].id;
  await db.pool.query("SELECT event.subscribe_column($1, meta.column_id('public', 'person', 'name'))", [b]);
  assert.equal(await triggers(), 5);
  await db.pool.query('SELECT event.unsubscribe($1)', [subA]);
  assert.equal(await triggers(), 5, 'b still subscribes');
  await db.pool.query("UPDATE person SET name = 'x' WHERE id = 3");
  assert.equal((await queued(db.pool, a)).length, 0, 'no events after unsubscribe');
  assert.equal((await queued(db.pool, b)).length, 1);
  await db.pool.query('SELECT event.session_delete($1)', [b]);
  assert.equal(await triggers(), 5, 'removing a subscription takes no lock on the table: the triggers stay');
  assert.equal((await db.pool.query('SELECT (event.maintain()) ->> \'capture_removed\' AS n')).rows[0].n, '1');
  assert.equal(await triggers(), 0, 'maintenance took the unused triggers away');
  assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM event.pending_event WHERE session_id = $1', [b])).rows[0].n, 0);
});

test('concurrent subscribe and unsubscribe on one table never leave a subscription without triggers', async () => {
  const sessions = await Promise.all(Array.from({ length: 8 }, () => newSession(db.pool)));
  for (let round = 0; round < 5; round++) {
    const subs = await Promise.all(sessions.map((s) =>
      db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'person')) AS id", [s])));
    // Half unsubscribe while the other half resubscribe.
    await Promise.all(subs.map((r, i) => i % 2
      ? db.pool.query('SELECT event.unsubscribe($1)', [r.rows[0].id])
      : db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'person'))", [sessions[i]])));
    const { rows } = await db.pool.query(`SELECT
      (SELECT count(*) FROM event.subscription WHERE relation_oid = 'person'::regclass)::int AS subs,
      (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'person'::regclass AND tgname LIKE 'aqevent%')::int AS triggers`);
    assert.equal(rows[0].triggers, rows[0].subs > 0 ? 5 : 0);
    await Promise.all(sessions.map((s) => db.pool.query('DELETE FROM event.subscription WHERE session_id = $1', [s])));
  }
});

test('unsubscribing an unknown subscription is an error naming it', async () => {
  await assert.rejects(db.pool.query("SELECT event.unsubscribe('00000000-0000-0000-0000-000000000000')"),
    (error: Error & { code?: string }) => error.code === '42704' && /00000000-0000/.test(error.message));
});

test('a dropped table takes its subscriptions with it', async () => {
  await db.pool.query('CREATE TABLE doomed (id int PRIMARY KEY)');
  const session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'doomed'))", [session]);
  await db.pool.query('DROP TABLE doomed');
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM event.subscription WHERE session_id = $1', [session]);
  assert.equal(rows[0].n, 0);
});
