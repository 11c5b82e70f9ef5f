/**
 * The schema a fresh install creates, checked against the committed snapshot
 * test/schema/pgNN.snapshot (one per PostgreSQL major version: catalog
 * functions print a little differently across versions). A change to sql/
 * that changes the schema fails here until the snapshot is regenerated with
 * `npm run schema:snapshot` (AQEVENT_WRITE_SNAPSHOT=1) and committed, so that
 * every schema change is seen in review.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { describeCatalog } from './support/catalog.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

test('a fresh install matches the committed schema snapshot', async () => {
  const version = String((await db.pool.query('SHOW server_version_num')).rows[0].server_version_num);
  const file = `test/schema/pg${version.slice(0, 2)}.snapshot`;
  const actual = await describeCatalog(db.pool);
  if (process.env.AQEVENT_WRITE_SNAPSHOT === '1') {
    await mkdir('test/schema', { recursive: true });
    await writeFile(file, actual);
    return;
  }
  assert.ok(existsSync(file), `${file} is missing: run npm run schema:snapshot on PostgreSQL ${version.slice(0, 2)}`);
  const expected = await readFile(file, 'utf8');
  if (actual !== expected) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const added = a.filter((line) => !e.includes(line)).slice(0, 10);
    const removed = e.filter((line) => !a.includes(line)).slice(0, 10);
    assert.fail(`the installed schema differs from ${file} (run npm run schema:snapshot and review the diff)\n`
      + `in the install, not the snapshot:\n  ${added.join('\n  ')}\nin the snapshot, not the install:\n  ${removed.join('\n  ')}`);
  }
});
