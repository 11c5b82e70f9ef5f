import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migrate, migrateStatus } from '../src/db/migrate.js';
import { currentVersion, loadInstall } from '../src/db/sql-files.js';
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

test('the template database is installed at the current version, the install script recorded with its checksum', async () => {
  const install = await loadInstall();
  const { rows } = await db.pool.query('SELECT script, version, checksum FROM event.schema_history');
  assert.deepEqual(rows, [{ script: 'install.sql', version: await currentVersion(), checksum: install.checksum }]);
  assert.deepEqual(await migrateStatus(db.pool), { installed: await currentVersion(), target: await currentVersion(), plan: [] });
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
    const latest = await currentVersion();
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

test('--dry-run and status change nothing; an applied script that has since changed is refused, naming the file', async () => {
  const name = `${db.name}_f`;
  await db.pool.query(`CREATE DATABASE "${name}"`);
  const url = new URL(db.url);
  url.pathname = `/${name}`;
  const pool = quietPool(url.toString());
  try {
    assert.deepEqual(await migrateStatus(pool), { installed: null, target: await currentVersion(), plan: ['install.sql'] });
    await migrate(pool, { dryRun: true });
    const { rows } = await pool.query("SELECT to_regnamespace('event') IS NULL AS none");
    assert.equal(rows[0].none, true, 'a dry run installs nothing');
    await migrate(pool);
    await pool.query("UPDATE event.schema_history SET checksum = 'edited' WHERE script = 'install.sql'");
    await assert.rejects(migrate(pool), (error: Error) => /sql\/install\.sql has changed since it was applied/.test(error.message));
    await assert.rejects(migrateStatus(pool), /sql\/install\.sql has changed/);
  } finally {
    await pool.end();
    await db.pool.query(`DROP DATABASE "${name}" WITH (FORCE)`);
  }
});
