// The CLI on schema changes: `subscribe S table meta.column`, tail lines for
// people, and DDL failures in `aqevent stats`. A real subprocess.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli, startCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

const cli = async (...args: string[]) => {
  const result = await runCli(['--database-url', db.url, ...args], { NO_COLOR: '1' });
  assert.equal(result.code, 0, result.stderr);
  return result;
};

test('subscribe S table meta.column, then tail prints each DDL event readably', async () => {
  const session = JSON.parse((await cli('--json', 'session', 'create')).stdout).id as string;
  await cli('subscribe', session, 'table', 'meta.column');
  await cli('subscribe', session, 'table', 'meta.relation');
  await db.pool.query(`
    CREATE TABLE public.person (id int PRIMARY KEY);
    ALTER TABLE public.person ADD COLUMN age integer;
    ALTER TABLE public.person ALTER COLUMN age TYPE bigint;
    DROP TABLE public.person;`);
  const tail = startCli(['--database-url', db.url, 'tail', session], { NO_COLOR: '1' });
  try {
    await tail.waitForLine((line) => line.includes('row_delete   meta.relation public.person'));
    assert.ok(tail.lines.every((line) => /\(via table [0-9a-f]{8}\)$/.test(line)), tail.lines.join('\n'));
    const lines = tail.lines.map((line) => line.replace(/^\S+ \S+ #\d+ /, '').replace(/ \(via table [0-9a-f]{8}\)$/, ''));
    assert.deepEqual(lines, [
      'row_insert   meta.relation public.person table',
      'row_insert   meta.column public.person.id integer not null',
      'row_insert   meta.column public.person.age integer',
      'field_update meta.column public.person.age type: "integer" → "bigint"',
      'row_delete   meta.column public.person.age bigint',
      'row_delete   meta.column public.person.id integer not null',
      'row_delete   meta.relation public.person table',
    ]);
  } finally {
    await tail.stop('SIGINT');
  }
});

test('aqevent stats warns of a DDL that committed without its events', async () => {
  const session = JSON.parse((await cli('--json', 'session', 'create')).stdout).id as string;
  await cli('subscribe', session, 'table', 'meta.relation');
  await db.pool.query("ALTER TABLE event.change ADD CONSTRAINT aqevent_test_fail CHECK (new_row NOT LIKE '%doomed%')");
  try {
    await db.pool.query('CREATE TABLE public.doomed (id int)');
  } finally {
    await db.pool.query('ALTER TABLE event.change DROP CONSTRAINT aqevent_test_fail');
  }
  const stats = await cli('stats');
  assert.match(stats.stderr, /warning: CREATE TABLE at .* committed without its aqevent events: .*\(23514\)/);
});
