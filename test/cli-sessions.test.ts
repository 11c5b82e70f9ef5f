// The aqevent CLI as real subprocesses: sessions across processes, drain, ack/nack/dead, stats, bad input, help.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CliResult, runCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
let cli: (...args: string[]) => Promise<CliResult>;

before(async () => {
  db = await createTestDatabase();
  cli = (...args) => runCli(['--database-url', db.url, ...args]);
  await db.pool.query(`
    CREATE TABLE public.item (id int PRIMARY KEY, qty bigint, name text);
    CREATE TABLE public.line (order_id int, n int, qty int, PRIMARY KEY (order_id, n));
    INSERT INTO public.line VALUES (7, 1, 10), (7, 2, 20), (8, 1, 30);`);
});
after(() => db.drop());

function ok(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

async function newSession(...flags: string[]): Promise<string> {
  return JSON.parse(ok(await cli('session', 'create', '--json', ...flags))).id;
}

const ndjson = (stdout: string) => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));

test('a session made by one process collects while nobody listens; a later drain --ack sees every event once', async () => {
  const session = await newSession('--ttl', '7d');
  const table = ok(await cli('subscribe', session, 'table', 'public.item')).trim();
  const field = ok(await cli('subscribe', session, 'field', 'public.line', '7,1', 'qty')).trim();
  const row = ok(await cli('--json', 'subscribe', session, 'row', 'public.line', '7,2')).trim();
  assert.match(table, /^[0-9a-f-]{36}$/);
  assert.match(field, /^[0-9a-f-]{36}$/);
  assert.match(JSON.parse(row).id, /^[0-9a-f-]{36}$/);
  ok(await cli('session', 'detach', session));

  // Nobody listens: the events wait in the queue.
  await db.pool.query("INSERT INTO public.item VALUES (1, 9007199254740993, 'big'), (2, 5, 'small')");
  await db.pool.query('UPDATE public.line SET qty = qty + 1'); // 7,1 qty (field) and 7,2 (row); 8,1 not subscribed
  await db.pool.query('DELETE FROM public.line WHERE order_id = 7 AND n = 2');

  const shown = JSON.parse(ok(await cli('--json', 'session', 'show', session)));
  assert.equal(shown.backlog, 5);
  assert.equal(shown.ttlMs, 7 * 86_400_000);
  assert.deepEqual(shown.subscriptions.map((s: { kind: string }) => s.kind).sort(), ['field', 'row', 'table']);
  assert.deepEqual(shown.subscriptions.find((s: { kind: string }) => s.kind === 'field').key, ['7', '1']);

  const drained = await cli('drain', session, '--json', '--ack');
  const events = ndjson(ok(drained));
  assert.deepEqual(events.map((e) => e.operation), ['row_insert', 'row_insert', 'field_update', 'field_update', 'row_delete']);
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'each event once');
  // Printed exactly as stored: the bigint is a number with every digit.
  assert.match(drained.stdout, /"qty": 9007199254740993\b/);

  assert.equal(ok(await cli('drain', session, '--json')), '');
  assert.match(ok(await cli('drain', session)), /^no events pending$/m);
  assert.equal(JSON.parse(ok(await cli('--json', 'session', 'show', session))).backlog, 0);
  ok(await cli('session', 'delete', session));
  assert.equal((await cli('session', 'show', session)).code, 1);
});

test('drain without --ack leaves events pending and counts no attempt', async () => {
  const session = await newSession();
  ok(await cli('subscribe', session, 'column', 'public.item', 'name'));
  await db.pool.query("INSERT INTO public.item VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 1, 'c')");
  for (let i = 0; i < 2; i++) {
    const lines = ok(await cli('drain', session)).trim().split('\n');
    assert.equal(lines.length, 4, lines.join('\n')); // three events and the summary
    assert.match(lines[0]!, /#\d+ row_insert\s+public\.item\[10\] id=10 qty=1 name="a"/);
    assert.match(lines[3]!, /3 events, still pending/);
  }
  assert.equal(ndjson(ok(await cli('--json', 'drain', session, '--max', '2'))).length, 2);
  const { rows } = await db.pool.query('SELECT attempts, visible_at FROM event.pending_event WHERE session_id = $1', [session]);
  assert.deepEqual(rows, [{ attempts: 0, visible_at: null }, { attempts: 0, visible_at: null }, { attempts: 0, visible_at: null }]);
});

test('ack, nack, dead letters and requeue through the CLI; stats as JSON', async () => {
  const session = await newSession('--max-attempts', '1');
  ok(await cli('subscribe', session, 'table', 'public.item'));
  await db.pool.query("INSERT INTO public.item VALUES (20, 1, 'x'), (21, 2, 'y')");
  const fetch = async () => (await db.pool.query<{ id: string }>("SELECT id::text FROM event.fetch_events($1, 1, '1h')", [session])).rows;
  const [first] = await fetch();
  assert.equal(ok(await cli('nack', session, first!.id, '--error', 'boom')).trim(), 'returned 1 of 1');
  const [second] = await fetch(); // the first's one attempt is used up: it became a dead letter, the next one is leased
  assert.notEqual(second!.id, first!.id);

  const dead = JSON.parse(ok(await cli('--json', 'dead', session)));
  assert.equal(dead.length, 1);
  assert.equal(dead[0].id, first!.id);
  assert.equal(dead[0].lastError, 'boom');
  assert.equal(dead[0].event.operation, 'row_insert');
  assert.match(ok(await cli('dead', session)), /boom/);

  const stats = JSON.parse(ok(await cli('stats', '--json'))).find((s: { sessionId: string }) => s.sessionId === session);
  assert.deepEqual({ backlog: stats.backlog, inFlight: stats.inFlight, dead: stats.dead }, { backlog: 0, inFlight: 1, dead: 1 });

  assert.equal(ok(await cli('dead', session, first!.id, '--requeue')).trim(), 'requeued 1 dead letter');
  const ids = ndjson(ok(await cli('drain', session, '--json'))).map((e) => e.id); // leased ones included
  assert.deepEqual(ids.map(String).sort(), [first!.id, second!.id].sort());
  assert.equal(ok(await cli('ack', session, ...ids.map(String), '999999')).trim(), 'acknowledged 2 of 3; not pending: 999999');
  const jsonAck = JSON.parse(ok(await cli('--json', 'ack', session, '999999')));
  assert.deepEqual(jsonAck, { acked: 0, requested: 1, not_found: ['999999'] }, 'an id that is not pending is named');
  const after = JSON.parse(ok(await cli('--json', 'stats'))).find((s: { sessionId: string }) => s.sessionId === session);
  assert.deepEqual({ backlog: after.backlog, inFlight: after.inFlight, dead: after.dead, oldestAgeMs: after.oldestAgeMs }, { backlog: 0, inFlight: 0, dead: 0, oldestAgeMs: null });
});

test('bad input: one line on stderr, exit 2 for usage errors and 1 for what the database refuses', async () => {
  const session = await newSession();
  const cases: [string[], number, RegExp][] = [
    [['session', 'show', 'not-a-uuid'], 2, /session id: expected a uuid/],
    [['tail', '00000000-0000-4000-8000-000000000000'], 1, /session "00000000-0000-4000-8000-000000000000" does not exist \[42704\]/],
    [['nack', session, '1', '--delay', 'soon'], 2, /"soon" is not a duration/],
    [['subscribe', session, 'table', 'public.missing'], 1, /does not exist \[42P01\]/],
    [['drain', session, '--max', '0'], 2, /expected a positive integer/],
    [['subscribe', session, 'row', 'public.line', '"7,1'], 2, /unterminated quote/],
    [['frobnicate'], 2, /unknown command 'frobnicate'/],
  ];
  for (const [args, code, message] of cases) {
    const result = await cli(...args);
    assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /^aqevent: /);
    assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  }
});

test('--help of a nested command lists the environment variables and exit codes', async () => {
  const result = await runCli(['session', 'create', '--help']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /--ttl <duration>/);
  assert.match(result.stdout, /DATABASE_URL/);
  assert.match(result.stdout, /PGHOST/);
  assert.match(result.stdout, /Exit codes: 0 success, 1 runtime error/);
});
