// The CLI's live-view flags: subscribe --where / --columns / --snapshot, and
// what session show and drain print for them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CliResult, runCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
let cli: (...args: string[]) => Promise<CliResult>;

before(async () => {
  db = await createTestDatabase();
  cli = (...args) => runCli(['--database-url', db.url, ...args]);
  await db.pool.query(`CREATE TABLE public.person (id int PRIMARY KEY, name text, score int);
                       INSERT INTO public.person VALUES (1, 'Joe', 1), (2, 'Ann', 50), (3, 'Cy', 2);`);
});
after(() => db.drop());

function ok(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

test('subscribe --where --snapshot: the matching rows first, the end of the snapshot, then changes that enter and leave', async () => {
  const session = JSON.parse(ok(await cli('session', 'create', '--json'))).id;
  const subscribed = await cli('subscribe', session, 'table', 'public.person', '--where', "score > 10 or name = 'Joe'", '--snapshot');
  ok(subscribed);
  await db.pool.query('UPDATE public.person SET score = 40 WHERE id = 3; UPDATE public.person SET score = 0 WHERE id = 2');
  const lines = ok(await cli('drain', session)).trim().split('\n');
  assert.match(lines[0]!, /row_insert\s+public\.person\[1\] id=1 name="Joe" score=1 \(via table [0-9a-f]{8}, snapshot\)/);
  assert.match(lines[1]!, /row_insert\s+public\.person\[2\] .*, snapshot\)/);
  assert.match(lines[2]!, /snapshot_end\s+public\.person the snapshot's 2 row\(s\)/);
  assert.match(lines[3]!, /row_insert\s+public\.person\[3\] .*, entered the filter\)/);
  assert.match(lines[4]!, /row_delete\s+public\.person\[2\] .*, left the filter\)/);
  assert.match(subscribed.stderr, /^snapshot of public\.person: 2 rows, complete$/m);
  const shown = ok(await cli('session', 'show', session));
  assert.match(shown, /\(\(score > 10\) OR \(name = 'Joe'::text\)\)/);
  const json = JSON.parse(ok(await cli('--json', 'session', 'show', session)));
  assert.equal(json.subscriptions[0].filter, "((score > 10) OR (name = 'Joe'::text))");
});

test('overlapping subscriptions: each line names the grain and subscription it came through', async () => {
  const session = JSON.parse(ok(await cli('session', 'create', '--json'))).id;
  const table = ok(await cli('subscribe', session, 'table', 'public.person')).trim();
  const row = ok(await cli('subscribe', session, 'row', 'public.person', '3')).trim();
  const field = ok(await cli('subscribe', session, 'field', 'public.person', '3', 'score')).trim();
  await db.pool.query('UPDATE public.person SET score = score + 1 WHERE id = 3');
  const lines = ok(await cli('drain', session)).trim().split('\n').slice(0, 3);
  assert.deepEqual(lines.map((l) => /via (\w+) ([0-9a-f]{8})/.exec(l)?.slice(1)),
    [['table', table.slice(0, 8)], ['row', row.slice(0, 8)], ['field', field.slice(0, 8)]]);
});

test('subscribe --columns keeps those payload columns; bad filters and flags fail with their reason', async () => {
  const session = JSON.parse(ok(await cli('session', 'create', '--json'))).id;
  ok(await cli('subscribe', session, 'table', 'public.person', '--columns', 'name'));
  await db.pool.query("UPDATE public.person SET score = score + 1, name = name || '!' WHERE id = 1");
  const lines = ok(await cli('drain', session)).trim().split('\n');
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /field_update\s+public\.person\[1\] name: "Joe" → "Joe!"/);
  const unknown = await cli('subscribe', session, 'table', 'public.person', '--where', 'nosuch = 1');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /nosuch.*\[42703\]/);
  const volatile = await cli('subscribe', session, 'table', 'public.person', '--where', 'random() > 0.5');
  assert.match(volatile.stderr, /not IMMUTABLE \[22023\]/);
  const grain = await cli('subscribe', session, 'row', 'public.person', '1', '--snapshot');
  assert.equal(grain.code, 2, grain.stderr);
  assert.match(grain.stderr, /snapshot is not available at this grain/);
});
