// The relational diff of the Aquameta chapter, end to end.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { listen, newSession, queued, summary, oidOf } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  await db.pool.query(`
    CREATE TABLE person (id serial PRIMARY KEY, name text, score int);
    INSERT INTO person (name, score) VALUES
      ('Joe Smith', 15), ('Don Jones', 12), ('Sandy Hill', 16), ('Nancy Makowsky', 9);`);
});
after(() => db.drop());

const personRowId = (id: string) => ({
  pk_column_id: { relation_id: { schema_id: { name: 'public' }, name: 'person' }, name: 'id' },
  pk_value: id,
});

test('insert, update of two columns and delete yield exactly the four events, queued and notified', async () => {
  const session = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'person'))", [session]);
  const listener = await listen(db.url);
  try {
    await db.pool.query("insert into person (name, score) values ('Don Pablo', 14)");
    await db.pool.query("update person set name='Sandy Jones', score=score+3 where id=3");
    await db.pool.query('delete from person where id=4');

    const events = await queued(db.pool, session);
    assert.deepEqual(events.map(summary), [
      ['row_insert', '5', { id: 5, name: 'Don Pablo', score: 14 }],
      ['field_update', '3', { name: 'Sandy Jones' }],
      ['field_update', '3', { score: 19 }],
      ['row_delete', '4', { id: 4 }],
    ]);
    for (const event of events) {
      assert.equal(event.subscription_type, 'table');
      assert.deepEqual(event.relation_id, { schema_id: { name: 'public' }, name: 'person' });
      assert.equal(typeof event.transaction_id, 'number');
      assert.ok(!Number.isNaN(Date.parse(event.timestamp)));
    }
    assert.deepEqual(events[0]!.row_id, personRowId('5'));
    assert.deepEqual(events[1]!.old_payload, { name: 'Sandy Hill' });
    assert.deepEqual(events[2]!.old_payload, { score: 16 });
    assert.deepEqual(events[1]!.field_id, {
      row_id: personRowId('3'),
      column_id: { relation_id: { schema_id: { name: 'public' }, name: 'person' }, name: 'name' },
    });
    assert.equal(events[1]!.transaction_id, events[2]!.transaction_id, 'one UPDATE, one transaction');

    const person = await oidOf(db.pool, 'person');
    assert.deepEqual(await listener.next(4, 1000), [person, person, person], 'one wake-up per transaction, naming the table');
  } finally {
    await listener.close();
  }
});

test('the one-argument forms use the connection\'s current session', async () => {
  const client = await db.pool.connect();
  try {
    const { rows } = await client.query("SELECT event.session_create() AS s, event.subscribe_table(meta.relation_id('public', 'person')) AS sub");
    const { rows: current } = await client.query('SELECT event.current_session() AS s');
    assert.equal(current[0].s, rows[0].s);
    const { rows: subs } = await client.query('SELECT session_id FROM event.subscription WHERE id = $1', [rows[0].sub]);
    assert.equal(subs[0].session_id, rows[0].s);
  } finally {
    client.release();
  }
});
