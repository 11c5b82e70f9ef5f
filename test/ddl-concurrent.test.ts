// Migrations run at once on two connections: each DDL's events are exactly
// its own, none fails, and the catalog snapshot ends equal to the catalog.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { metaSession, takeDdl } from './support/ddl.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

async function migrate(client: pg.Client, schema: string, isolation: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    // every third transaction also drops a table, so that its commands compare the whole catalog
    await client.query(`BEGIN ISOLATION LEVEL ${isolation};
      CREATE TABLE ${schema}.t${i} (id int PRIMARY KEY, v text);
      ALTER TABLE ${schema}.t${i} ADD COLUMN w int;
      ${i % 3 === 2 ? `DROP TABLE ${schema}.t${i - 1};` : ''}
      COMMIT`);
  }
}

for (const isolation of ['READ COMMITTED', 'REPEATABLE READ']) {
  test(`two migrations at once (${isolation}): the events of both, exactly, and no DDL failure`, async () => {
    await db.pool.query(`DELETE FROM event.session; DELETE FROM event.ddl_failure;
                         DROP SCHEMA IF EXISTS one CASCADE; DROP SCHEMA IF EXISTS two CASCADE;
                         CREATE SCHEMA one; CREATE SCHEMA two`);
    const session = await metaSession(db.pool, ['relation', 'column']);
    const clients = [new pg.Client({ connectionString: db.url }), new pg.Client({ connectionString: db.url })];
    await Promise.all(clients.map((c) => c.connect()));
    const count = 12;
    try {
      await Promise.all([migrate(clients[0]!, 'one', isolation, count), migrate(clients[1]!, 'two', isolation, count)]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const events = await takeDdl(db.pool, session);
    for (const schema of ['one', 'two']) {
      const mine = events.filter(([, , name]) => name.startsWith(`${schema}.`));
      const names = (op: string, view: string) =>
        mine.filter(([o, v]) => o === op && v === view).map(([, , name]) => name).sort();
      const tables = [...Array(count).keys()];
      const dropped = tables.filter((i) => i % 3 === 1);
      assert.deepEqual(names('row_insert', 'meta.relation'), tables.map((i) => `${schema}.t${i}`).sort());
      assert.deepEqual(names('row_insert', 'meta.column'),
        tables.flatMap((i) => ['id', 'v', 'w'].map((c) => `${schema}.t${i}.${c}`)).sort());
      assert.deepEqual(names('row_delete', 'meta.relation'), dropped.map((i) => `${schema}.t${i}`).sort());
      assert.deepEqual(names('row_delete', 'meta.column'),
        dropped.flatMap((i) => ['id', 'v', 'w'].map((c) => `${schema}.t${i}.${c}`)).sort());
      assert.equal(mine.length, count * 4 + dropped.length * 4);
    }
    assert.deepEqual((await db.pool.query('SELECT message FROM event.ddl_failure')).rows, []);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM event._catalog_rows(NULL) n
      FULL JOIN event.catalog_snapshot o ON o.relid = n.relid AND o.id = n.id
      WHERE n.literal IS DISTINCT FROM o.literal OR n.grantees IS DISTINCT FROM o.grantees`);
    assert.equal(rows[0].n, 0);
  });
}
