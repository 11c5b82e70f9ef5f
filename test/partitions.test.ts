// Partitioned tables: a subscription to the partitioned table sees every
// partition's rows (written through it or to the partition, attached later
// too), named as the partitioned table's; a row moved between partitions is
// a key change.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { newSession, queued } from './support/events.js';

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
