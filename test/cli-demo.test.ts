// `aqevent demo` and `aqevent migrate` as real subprocesses.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runCli } from './support/cli.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

test('demo prints the four events of the person example as they arrive', async () => {
  const result = await runCli(['--database-url', db.url, 'demo']);
  assert.equal(result.code, 0, result.stderr);
  const arrived = result.stdout.split('\n').filter((line) => line.includes('←'));
  assert.equal(arrived.length, 4, result.stdout);
  assert.match(arrived[0]!, /row_insert person "5" \{"id":5,"name":"Don Pablo","score":14\}/);
  assert.match(arrived[1]!, /field_update person "3" \{"name":"Sandy Jones"\}/);
  assert.match(arrived[2]!, /field_update person "3" \{"score":19\}/);
  assert.match(arrived[3]!, /row_delete person "4"/);
  // The count comes from the session's stats (backlog + in flight), read after the four were printed: follow() took none.
  assert.match(result.stdout, /^4 events are in the session's inbox; deleting the demo session\.$/m);
  const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'aqevent_demo'");
  assert.equal(rows[0].n, 0, 'the demo cleans up');
});

test('demo --json prints one event JSON per line', async () => {
  const result = await runCli(['--database-url', db.url, '--json', 'demo']);
  assert.equal(result.code, 0, result.stderr);
  const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(events.map((e) => e.operation), ['row_insert', 'field_update', 'field_update', 'row_delete']);
});

test('migrate on a current schema says so; a bad URL is one line on stderr and exit 1', async () => {
  const result = await runCli(['--database-url', db.url, 'migrate']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /schema is current/);
  const bad = await runCli(['--database-url', 'mysql://nope', 'migrate']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^aqevent: not a PostgreSQL connection string/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, 'no stack trace');
});
