// A dropped table's changes: collected before the DROP, delivered as they
// were captured (docs/concepts.md, "Schema changes"); what cannot be is said.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued, summary } from './support/events.js';
import { createRoles, endRoles, type TestRole } from './support/roles.js';

let db: TestDatabase;
let roles: Record<'alice' | 'bob', TestRole>;
before(async () => {
  db = await createTestDatabase();
  roles = await createRoles(db, ['alice', 'bob'] as const);
  await db.pool.query(`GRANT aqevent_user TO ${roles.alice.sql}, ${roles.bob.sql}`);
});
after(async () => {
  await endRoles(roles);
  await db.drop();
});
beforeEach(async () => {
  await db.pool.query(`
    DELETE FROM event.session;
    DELETE FROM event.ddl_failure;
    DROP SCHEMA IF EXISTS crm CASCADE;
    DROP SCHEMA IF EXISTS trap CASCADE;
    DROP TABLE IF EXISTS person, pet CASCADE;
    CREATE TABLE person (id int PRIMARY KEY, name text, born timestamptz, tags jsonb);
    INSERT INTO person VALUES (1, 'Joe', '2020-01-02 03:04:05+00', '{"a": [1, 2]}'), (2, 'Don', NULL, NULL);`);
});

const failures = async () =>
  (await db.pool.query('SELECT command_tag, sqlstate, message FROM event.ddl_failure ORDER BY id')).rows;

test('DROP TABLE: changes not yet collected are delivered to every grain, rendered as captured', async () => {
  const table = await newSession(db.pool);
  const row = await newSession(db.pool);
  const column = await newSession(db.pool);
  await db.pool.query(`SELECT event.subscribe_table($1, 'person'),
                              event.subscribe_row($2, meta.row_id('public', 'person', 'id', '1')),
                              event.subscribe_column($3, meta.column_id('public', 'person', 'tags'))`,
                      [table, row, column]);
  await db.pool.query(`INSERT INTO person VALUES (3, 'Sandy', '2021-05-06 07:08:09.5+02', '[true, null]');
                       UPDATE person SET name = 'Joseph', tags = '{"b": 1}' WHERE id = 1;
                       DELETE FROM person WHERE id = 2`);
  await db.pool.query('DROP TABLE person'); // nobody collected before
  assert.deepEqual((await queued(db.pool, table)).map(summary), [
    ['row_insert', '3', { id: 3, name: 'Sandy', born: '2021-05-06T05:08:09.5+00:00', tags: [true, null] }],
    ['field_update', '1', { name: 'Joseph' }],
    ['field_update', '1', { tags: { b: 1 } }],
    ['row_delete', '2', { id: 2 }],
  ]);
  const rowEvents = await queued(db.pool, row);
  assert.deepEqual(rowEvents.map(summary), [['field_update', '1', { name: 'Joseph' }], ['field_update', '1', { tags: { b: 1 } }]]);
  assert.deepEqual(rowEvents[1]!.old_payload, { tags: { a: [1, 2] } });
  assert.deepEqual((await queued(db.pool, column)).map(summary), [
    ['row_insert', '3', { id: 3, name: 'Sandy', born: '2021-05-06T05:08:09.5+00:00', tags: [true, null] }],
    ['field_update', '1', { tags: { b: 1 } }],
    ['row_delete', '2', { id: 2 }],
  ]);
  assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM event.subscription')).rows[0].n, 0);
  assert.deepEqual(await failures(), []);
});

test('DROP SCHEMA … CASCADE: the changes of its tables are delivered; a filtered subscription keeps its filter', async () => {
  await db.pool.query(`CREATE SCHEMA crm; CREATE TABLE crm.lead (id int PRIMARY KEY, score int);
                       INSERT INTO crm.lead VALUES (1, 5)`);
  const all = await newSession(db.pool);
  const hot = await newSession(db.pool);
  await db.pool.query(`SELECT event.subscribe_table($1, 'crm.lead'),
                              event.subscribe_table($2, 'crm.lead', filter => 'score > 10')`, [all, hot]);
  await db.pool.query('INSERT INTO crm.lead VALUES (2, 50), (3, 1); UPDATE crm.lead SET score = 20 WHERE id = 1');
  await db.pool.query('DROP SCHEMA crm CASCADE');
  assert.deepEqual((await queued(db.pool, all)).map(summary), [
    ['row_insert', '2', { id: 2, score: 50 }],
    ['row_insert', '3', { id: 3, score: 1 }],
    ['field_update', '1', { score: 20 }],
  ]);
  const hotEvents = await queued(db.pool, hot);
  assert.deepEqual(hotEvents.map(summary), [
    ['row_insert', '2', { id: 2, score: 50 }],
    ['row_insert', '1', { id: 1, score: 20 }],
  ]);
  assert.equal(hotEvents[1]!.reason, 'filter');
});

test('a DROP rolled back: the changes come once, with the table\'s later ones', async () => {
  const s = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'person')", [s]);
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE id = 1");
  await db.pool.query('BEGIN; DROP TABLE person; ROLLBACK');
  await db.pool.query("UPDATE person SET name = 'Donald' WHERE id = 2");
  assert.deepEqual((await queued(db.pool, s)).map(summary), [
    ['field_update', '1', { name: 'Joseph' }],
    ['field_update', '2', { name: 'Donald' }],
  ]);
});

test('a table owner dropping its table: its own sessions keep their changes; another role\'s loss is a DDL failure', async () => {
  await db.pool.query(`CREATE TABLE pet (id int PRIMARY KEY, name text);
                       ALTER TABLE pet OWNER TO ${roles.alice.sql};
                       GRANT SELECT ON pet TO ${roles.bob.sql}`);
  const mine = await newSession(roles.alice.pool);
  const theirs = await newSession(roles.bob.pool);
  await roles.alice.pool.query("SELECT event.subscribe_table($1, 'pet')", [mine]);
  await roles.bob.pool.query("SELECT event.subscribe_table($1, 'pet')", [theirs]);
  await roles.alice.pool.query("INSERT INTO pet VALUES (1, 'Rex')");
  await roles.alice.pool.query('DROP TABLE pet');
  assert.deepEqual((await queued(db.pool, mine)).map(summary), [['row_insert', '1', { id: 1, name: 'Rex' }]]);
  assert.deepEqual(await queued(db.pool, theirs), []);
  assert.deepEqual(await failures(), [{
    command_tag: 'DROP TABLE', sqlstate: '55000',
    message: '1 session(s) had changes of dropped table public.pet not yet collected; they are not delivered',
  }]);
});

test('a writer committing while the DROP waits for its lock: its changes are a DDL failure, the DROP commits', async () => {
  const s = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'person')", [s]);
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE id = 1"); // before: delivered
  const writer = new pg.Client({ connectionString: db.url });
  const dropper = new pg.Client({ connectionString: db.url });
  await writer.connect();
  await dropper.connect();
  try {
    await writer.query("BEGIN; INSERT INTO person VALUES (9, 'Late')");
    const dropped = dropper.query('DROP TABLE person');
    // the DROP has collected and waits for the writer's lock
    for (let i = 0; i < 100; i += 1) {
      const { rows } = await db.pool.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query = 'DROP TABLE person'");
      if (rows[0].n === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await writer.query('COMMIT');
    await dropped;
  } finally {
    await writer.end();
    await dropper.end();
  }
  assert.deepEqual((await queued(db.pool, s)).map(summary), [['field_update', '1', { name: 'Joseph' }]]);
  assert.deepEqual((await failures()).map((f) => f.message),
    ['1 session(s) had changes of dropped table public.person not yet collected; they are not delivered']);
});

test('DROP TABLE of a table nobody subscribes to leaves other sessions as they were', async () => {
  await db.pool.query('CREATE TABLE pet (id int PRIMARY KEY)');
  const s = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'person')", [s]);
  await db.pool.query("UPDATE person SET name = 'Joseph' WHERE id = 1");
  await db.pool.query('DROP TABLE pet');
  assert.deepEqual((await queued(db.pool, s)).map(summary), [['field_update', '1', { name: 'Joseph' }]]);
  assert.deepEqual(await failures(), []);
});

test('a superuser\'s DROP runs no other role\'s filter: a filter that cancels or sleeps changes nothing for it', async () => {
  await db.pool.query(`CREATE SCHEMA trap AUTHORIZATION ${roles.bob.sql}`);
  const bob = roles.bob.pool;
  await bob.query(`CREATE TABLE trap.t (id int PRIMARY KEY);
    CREATE FUNCTION trap.check(i int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
      IF i = 666 THEN RAISE EXCEPTION 'gotcha' USING ERRCODE = 'query_canceled'; END IF;
      PERFORM set_config('DateStyle', 'SQL, DMY', true);
      RETURN true;
    END $$`);
  const s = await newSession(bob);
  await bob.query("SELECT event.subscribe_table($1, 'trap.t', filter => 'trap.check(id)')", [s]);
  await bob.query('INSERT INTO trap.t VALUES (666), (1)');
  await db.pool.query('CREATE TABLE pet (id int PRIMARY KEY)');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query("BEGIN; SET LOCAL DateStyle = 'ISO, MDY'");
    await client.query('DROP TABLE pet'); // must not fail, nor take bob's settings
    assert.equal((await client.query('SHOW DateStyle')).rows[0].DateStyle, 'ISO, MDY');
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  // bob's own session is untouched by the DROP: its rows are still to be collected by bob
  const { rows } = await db.pool.query('SELECT pending FROM event.session WHERE id = $1', [s]);
  assert.equal(Number(rows[0].pending), 0);
});

test('a DROP in a REPEATABLE READ transaction says that what committed after its snapshot cannot be checked', async () => {
  const s = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'person')", [s]);
  await db.pool.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1; DROP TABLE person; COMMIT');
  assert.deepEqual((await failures()).map((f) => f.message),
    ['a subscribed table was dropped in a repeatable read transaction: its changes committed after the transaction began are not delivered']);
});

test('an ordinary role setting aqevent.collecting itself still has its inbox rows counted', async () => {
  const alice = roles.alice.pool;
  const s = await newSession(alice);
  const client = new pg.Client({ connectionString: roles.alice.url });
  await client.connect();
  try {
    await client.query("SET aqevent.collecting = 'on'");
    await client.query(`INSERT INTO event.inbox (session_id, id, operation, event, created_at)
                        SELECT $1, -g, 'row_insert', '{}', now() FROM generate_series(1, 5) g`, [s]);
  } finally {
    await client.end();
  }
  const { rows } = await db.pool.query('SELECT pending FROM event.session WHERE id = $1', [s]);
  assert.equal(Number(rows[0].pending), 5);
});

test('a DDL failure names the role whose DDL it was; maintenance keeps a week of them, at most the newest 10,000', async () => {
  await db.pool.query(`CREATE TABLE alice_t (id int PRIMARY KEY); ALTER TABLE alice_t OWNER TO ${roles.alice.sql}`);
  const s = await newSession(roles.alice.pool);
  await roles.alice.pool.query("SELECT event.subscribe_table($1, 'alice_t')", [s]);
  await roles.alice.pool.query('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1; DROP TABLE alice_t; COMMIT');
  const { rows } = await db.pool.query('SELECT role_name, sqlstate FROM event.ddl_failures(5)');
  assert.deepEqual(rows, [{ role_name: roles.alice.name, sqlstate: '55000' }]);
  // an old one, and a flood of recent ones
  await db.pool.query(`INSERT INTO event.ddl_failure (command_tag, sqlstate, message, failed_at)
                       VALUES ('DROP TABLE', '55000', 'old', now() - interval '8 days')`);
  await db.pool.query(`INSERT INTO event.ddl_failure (command_tag, sqlstate, message)
                       SELECT 'DROP TABLE', '55000', 'flood ' || g FROM generate_series(1, 10050) g`);
  const trimmed = (await db.pool.query('SELECT event.maintain() AS m')).rows[0].m.ddl_failures_trimmed;
  assert.equal(trimmed, 52);
  const left = (await db.pool.query(`SELECT count(*)::int AS n, min(message) FILTER (WHERE message = 'old') AS old,
                                            max(id) = (SELECT max(id) FROM event.ddl_failure) AS newest
                                     FROM event.ddl_failure`)).rows[0];
  assert.deepEqual(left, { n: 10000, old: null, newest: true });
});
