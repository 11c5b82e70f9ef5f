import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migrate } from '../src/db/migrate.js';
import { loadMigrations } from '../src/db/sql-files.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
function quietPool(connectionString: string): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 1 });
  pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) ends idle clients
  return pool;
}
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

test('the template database is migrated to the latest version', async () => {
  const migrations = await loadMigrations();
  const { rows } = await db.pool.query<{ version: number }>('SELECT version FROM event.migration ORDER BY version');
  assert.deepEqual(rows.map((r) => r.version), migrations.map((m) => m.version));
});

test('twenty concurrent migrations of an empty database end with one correct schema', async () => {
  const name = `${db.name}_m`;
  await db.pool.query(`CREATE DATABASE "${name}"`);
  const url = new URL(db.url);
  url.pathname = `/${name}`;
  const pools = Array.from({ length: 20 }, () => quietPool(url.toString()));
  try {
    const results = await Promise.all(pools.map((pool) => migrate(pool)));
    const appliers = results.filter((r) => r.applied.length > 0);
    assert.equal(appliers.length, 1, 'exactly one process applies the migrations');
    const latest = Math.max(...(await loadMigrations()).map((m) => m.version));
    assert.ok(results.every((r) => r.version === latest));
    const again = await migrate(pools[0]!);
    assert.deepEqual(again.applied, [], 'running it again changes nothing');
    const catalog = "SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace IN ('event'::regnamespace, 'meta'::regnamespace)";
    const fresh = (await pools[0]!.query(catalog)).rows[0].n;
    assert.equal(fresh, (await db.pool.query(catalog)).rows[0].n, 'the same functions as a database migrated alone');
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
    await db.pool.query(`DROP DATABASE "${name}" WITH (FORCE)`);
  }
});

test('a failing migration rolls back and names itself', async () => {
  const name = `${db.name}_f`;
  await db.pool.query(`CREATE DATABASE "${name}"`);
  const url = new URL(db.url);
  url.pathname = `/${name}`;
  const pool = quietPool(url.toString());
  try {
    await assert.rejects(
      migrate(pool, [{ version: 1, name: 'broken', sql: 'CREATE TABLE public.x (id int); SELECT 1/0;' }]),
      (error: Error & { code?: string; sqlstate?: string }) =>
        /001_broken/.test(error.message) && error.sqlstate === '22012',
    );
    const { rows } = await pool.query("SELECT to_regclass('public.x') IS NULL AS gone");
    assert.equal(rows[0].gone, true);
  } finally {
    await pool.end();
    await db.pool.query(`DROP DATABASE "${name}" WITH (FORCE)`);
  }
});
