// Partitioned tables: a subscription to the partitioned table sees every
// partition's rows (written through it or to the partition, attached later
// too), named as the partitioned table's; a row moved between partitions is
// a key change.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { clearInbox, newSession, queued } from './support/events.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

const brief = (e: Record<string, any>) => [e.operation, e.relation_id.name, e.row_id?.pk_value, e.payload];

test('every partition, written through the table or directly, attached or detached later', async () => {
  await db.pool.query(`
    CREATE TABLE m (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
    CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu');
    CREATE TABLE m_us (v int, id int NOT NULL, region text NOT NULL);`);
  const s = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'm')", [s]);
  await db.pool.query(`
    INSERT INTO m VALUES (1, 'eu', 1);
    INSERT INTO m_eu VALUES (2, 'eu', 2);
    ALTER TABLE m ATTACH PARTITION m_us FOR VALUES IN ('us');
    INSERT INTO m_us (id, region, v) VALUES (3, 'us', 3);
    UPDATE m SET region = 'us' WHERE id = 1;
    UPDATE m_us SET v = 30 WHERE id = 3;
    DELETE FROM m_eu WHERE id = 2;
    CREATE TABLE m_asia PARTITION OF m FOR VALUES IN ('asia');
    ALTER TABLE m ADD COLUMN w int;
    INSERT INTO m_asia VALUES (4, 'asia', 4, 4);
    ALTER TABLE m DETACH PARTITION m_us;
    INSERT INTO m_us VALUES (5, 5, 'us');`);
  assert.deepEqual((await queued(db.pool, s)).map(brief), [
    ['row_insert', 'm', ['1', 'eu'], { id: 1, region: 'eu', v: 1 }],
    ['row_insert', 'm', ['2', 'eu'], { id: 2, region: 'eu', v: 2 }],
    ['row_insert', 'm', ['3', 'us'], { id: 3, region: 'us', v: 3 }],
    ['row_delete', 'm', ['1', 'eu'], { id: 1, region: 'eu' }],
    ['row_insert', 'm', ['1', 'us'], { id: 1, region: 'us', v: 1 }],
    ['field_update', 'm', ['3', 'us'], { v: 30 }],
    ['row_delete', 'm', ['2', 'eu'], { id: 2, region: 'eu' }],
    ['row_insert', 'm', ['4', 'asia'], { id: 4, region: 'asia', v: 4, w: 4 }],
  ]);
  const { rows } = await db.pool.query(
    "SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'm_us'::regclass AND tgname LIKE 'aqevent%'");
  assert.equal(rows[0].n, 0);
});

test('a subscriber of one partition and one of the table each get the partition\'s rows once', async () => {
  await db.pool.query(`
    CREATE TABLE p (id int PRIMARY KEY, v int) PARTITION BY RANGE (id);
    CREATE TABLE p_low PARTITION OF p FOR VALUES FROM (0) TO (100);`);
  const whole = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'p')", [whole]);
  const part = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'p_low')", [part]);
  await db.pool.query('INSERT INTO p_low VALUES (1, 1)');
  assert.deepEqual((await queued(db.pool, whole)).map(brief), [['row_insert', 'p', '1', { id: 1, v: 1 }]]);
  assert.deepEqual((await queued(db.pool, part)).map(brief), [['row_insert', 'p_low', '1', { id: 1, v: 1 }]]);
});

test('TRUNCATE of one partition is a row_delete of each of its rows; TRUNCATE of the table one truncate', async () => {
  await db.pool.query(`
    CREATE TABLE t (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
    CREATE TABLE t_eu PARTITION OF t FOR VALUES IN ('eu');
    CREATE TABLE t_us PARTITION OF t FOR VALUES IN ('us') PARTITION BY RANGE (id);
    CREATE TABLE t_us_low PARTITION OF t_us FOR VALUES FROM (0) TO (100);
    CREATE TABLE t_us_high PARTITION OF t_us FOR VALUES FROM (100) TO (1000);`);
  const s = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 't')", [s]);
  await db.pool.query("INSERT INTO t VALUES (1, 'eu', 1), (2, 'eu', 2), (3, 'us', 3), (300, 'us', 4)");
  await clearInbox(db.pool, s);
  await db.pool.query('TRUNCATE t_eu');
  await db.pool.query('TRUNCATE t_us'); // a partitioned partition: each of its leaves' rows
  assert.deepEqual((await queued(db.pool, s)).map(brief).map(([op, rel, key, payload]) => [op, rel, key, payload]).sort(), [
    ['row_delete', 't', ['1', 'eu'], { id: 1, region: 'eu' }],
    ['row_delete', 't', ['2', 'eu'], { id: 2, region: 'eu' }],
    ['row_delete', 't', ['3', 'us'], { id: 3, region: 'us' }],
    ['row_delete', 't', ['300', 'us'], { id: 300, region: 'us' }],
  ].sort());
  await db.pool.query("INSERT INTO t VALUES (5, 'eu', 5), (6, 'us', 6)");
  await clearInbox(db.pool, s);
  await db.pool.query('TRUNCATE t');
  assert.deepEqual((await queued(db.pool, s)).map((e) => [e.operation, e.relation_id.name]), [['truncate', 't']],
    'the table truncated: one truncate, no row_delete from its partitions');
  // the mark does not outlive the statement: a partition truncated later in the same transaction reports its rows
  await db.pool.query("INSERT INTO t VALUES (7, 'eu', 7)");
  await clearInbox(db.pool, s);
  await db.pool.query('BEGIN; TRUNCATE t_us; TRUNCATE t_eu; COMMIT');
  assert.deepEqual((await queued(db.pool, s)).map(brief), [['row_delete', 't', ['7', 'eu'], { id: 7, region: 'eu' }]]);
  // rolled back: nothing
  await db.pool.query("INSERT INTO t VALUES (8, 'eu', 8)");
  await clearInbox(db.pool, s);
  await db.pool.query('BEGIN; TRUNCATE t_eu; ROLLBACK');
  assert.deepEqual(await queued(db.pool, s), []);
});

test('inheritance children (INHERITS) are captured as rows of their parent, made or inheriting later too; NO INHERIT stops', async () => {
  await db.pool.query(`
    CREATE TABLE animal (id int PRIMARY KEY, name text);
    CREATE TABLE dog (breed text) INHERITS (animal);`);
  const s = await newSession(db.pool);
  await db.pool.query("SELECT event.subscribe_table($1, 'animal')", [s]);
  await db.pool.query(`
    INSERT INTO animal VALUES (1, 'generic');
    INSERT INTO dog VALUES (2, 'rex', 'collie');
    UPDATE dog SET name = 'Rex' WHERE id = 2;
    UPDATE animal SET name = 'REX' WHERE id = 2;
    CREATE TABLE cat (lives int) INHERITS (animal);
    INSERT INTO cat VALUES (3, 'tom', 9);
    CREATE TABLE bird (id int NOT NULL, name text, wings int);
    ALTER TABLE bird INHERIT animal;
    INSERT INTO bird VALUES (4, 'tweety', 2);
    DELETE FROM dog WHERE id = 2;
    TRUNCATE cat;`);
  assert.deepEqual((await queued(db.pool, s)).map(brief), [
    ['row_insert', 'animal', '1', { id: 1, name: 'generic' }],
    ['row_insert', 'animal', '2', { id: 2, name: 'rex' }],
    ['field_update', 'animal', '2', { name: 'Rex' }],
    ['field_update', 'animal', '2', { name: 'REX' }],
    ['row_insert', 'animal', '3', { id: 3, name: 'tom' }],
    ['row_insert', 'animal', '4', { id: 4, name: 'tweety' }],
    ['row_delete', 'animal', '2', { id: 2 }],
    ['row_delete', 'animal', '3', { id: 3 }],
  ]);
  await clearInbox(db.pool, s);
  await db.pool.query('ALTER TABLE bird NO INHERIT animal; INSERT INTO bird VALUES (5, \'polly\', 2)');
  assert.deepEqual(await queued(db.pool, s), []);
  const { rows } = await db.pool.query(
    "SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'bird'::regclass AND tgname LIKE 'aqevent%'");
  assert.equal(rows[0].n, 0, 'a table that no longer inherits loses its capture triggers');
  await db.pool.query('TRUNCATE animal');
  assert.deepEqual((await queued(db.pool, s)).map((e) => [e.operation, e.relation_id.name]), [['truncate', 'animal']]);
});
