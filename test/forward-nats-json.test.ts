// forwardToNats as a library call: a JetStream consumer reads back the same
// JSON that `aqevent drain --json` prints, on subjects made from sanitized
// names; `aqevent stats` shows the forwarder; a stop while NATS is down
// releases what it leased; bad options are refused before anything runs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Aqevent, AqeventError, forwardToNats, liveForwarders, parseLosslessJson } from '../src/index.js';
import { runCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { testSubject } from './support/forward.js';
import { deleteStream, type OwnNats, readStream, SHARED_NATS, startOwnNats } from './support/nats.js';
import { eventually } from './support/roles.js';

let db: TestDatabase;
let aq: Aqevent;
let nats: OwnNats | undefined;
const streams: string[] = [];
const streamName = (what: string) => {
  const name = `AQTEST_${what}_${randomBytes(4).toString('hex')}`;
  streams.push(name);
  return name;
};
before(async () => {
  db = await createTestDatabase();
  aq = await Aqevent.connect({ connectionString: db.url, poolSize: 4 });
});
after(async () => {
  await aq.close();
  await nats?.destroy();
  for (const stream of streams) await deleteStream(SHARED_NATS, stream);
  await db.drop();
});

test('a JetStream consumer reads back exactly the JSON of aqevent drain --json; subjects are sanitized names; stats shows the forwarder', async (t) => {
  await db.pool.query('CREATE SCHEMA "odd schema"');
  await db.pool.query('CREATE TABLE "odd schema"."a.b*c" (id int PRIMARY KEY, name text, big numeric)');
  const session = await aq.createSession();
  await session.subscribeTable('"odd schema"."a.b*c"');
  await db.pool.query(`INSERT INTO "odd schema"."a.b*c" VALUES (1, 'Joe', 12345678901234567890.5), (2, 'Ann ✓', 1), (3, 'x', 2)`);
  await db.pool.query(`UPDATE "odd schema"."a.b*c" SET name = 'Joe Smith', big = big + 1 WHERE id = 1`);
  await db.pool.query(`DELETE FROM "odd schema"."a.b*c" WHERE id = 3`);
  await db.pool.query(`TRUNCATE "odd schema"."a.b*c"`);

  const drained = await runCli(['--database-url', db.url, 'drain', session.id, '--json']);
  assert.equal(drained.code, 0, drained.stderr);
  const lines = drained.stdout.trim().split('\n');
  assert.ok(lines.length >= 7, `the session holds the events (${lines.length})`);

  const stream = streamName('JSON');
  const controller = new AbortController();
  let forwarded = 0;
  const running = forwardToNats(session, {
    servers: SHARED_NATS, stream, subject: testSubject(stream), signal: controller.signal, onForwarded: () => void forwarded++,
  });
  await eventually(async () => (forwarded === lines.length ? true : undefined), 'every event to be forwarded');

  const stats = await runCli(['--database-url', db.url, '--json', 'stats']);
  const mine = JSON.parse(stats.stdout).find((s: { sessionId: string }) => s.sessionId === session.id);
  assert.deepEqual(mine.forwarders.map((f: { stream: string }) => f.stream), [stream.slice(0, 18)]);
  assert.equal(mine.backlog + mine.inFlight, 0, 'no lag once everything is forwarded');
  const table = await runCli(['--database-url', db.url, 'stats']);
  assert.match(table.stdout, new RegExp(`FORWARDER OF SESSION[\\s\\S]*${session.id}\\s+${stream.slice(0, 18)}`));

  controller.abort();
  const result = await running;
  assert.deepEqual(result, { forwarded: lines.length, duplicates: 0, released: 0 });

  const messages = await readStream(SHARED_NATS, stream);
  assert.deepEqual(messages.map((m) => m.data).sort(), [...lines].sort(), 'the same JSON, byte for byte');
  const prefix = stream.toLowerCase();
  const subjects = new Set(messages.map((m) => m.subject));
  for (const operation of ['row_insert', 'field_update', 'row_delete', 'truncate']) {
    assert.ok(subjects.has(`${prefix}.odd%20schema.a%2Eb%2Ac.${operation}`), `a ${operation} on its sanitized subject (${[...subjects].join(' ')})`);
  }
  for (const message of messages) assert.equal(message.msgId, `${session.id}:${(parseLosslessJson(message.data) as { id: unknown }).id}`);
  t.diagnostic(`${messages.length} messages read back, equal to the ${lines.length} lines of drain --json`);
});

test('a stop while NATS is down releases what the forwarder leased: deliverable at once, no attempt counted', async () => {
  nats = await startOwnNats();
  await db.pool.query('CREATE TABLE public.down_work (id int PRIMARY KEY)');
  const session = await aq.createSession();
  await session.subscribeTable('public.down_work');
  const controller = new AbortController();
  const lines: string[] = [];
  const running = forwardToNats(session, {
    servers: nats.url, stream: 'AQTEST_DOWN', subject: testSubject('AQTEST_DOWN'), signal: controller.signal, lease: '30s',
    shutdownTimeout: '300ms', pollInterval: '100ms', log: (line) => lines.push(line),
  });
  await eventually(async () => (lines.some((l) => /created stream/.test(l)) ? true : undefined), 'the forwarder to create its stream');
  await nats.stop();
  await db.pool.query('INSERT INTO public.down_work SELECT generate_series(1, 20)');
  await eventually(async () => (lines.some((l) => /publish failed/.test(l)) ? true : undefined), `publishes to fail: ${lines.join('; ')}`);
  controller.abort();
  const result = await running;
  assert.equal(result.forwarded, 0);
  assert.equal(result.released, 20, 'every leased event was released');
  const { rows } = await db.pool.query<{ visible: boolean; attempts: number }>(
    'SELECT visible_at IS NULL OR visible_at <= now() AS visible, attempts FROM event.pending_event WHERE session_id = $1', [session.id]);
  assert.equal(rows.length, 20);
  assert.ok(rows.every((r) => r.visible && r.attempts === 0), 'deliverable now, not after the 30 s lease, and no attempt counted');
});

test('bad options are refused with invalid_argument, naming what is wrong', async () => {
  const session = await aq.createSession();
  const refused = async (options: Parameters<typeof forwardToNats>[1], pattern: RegExp) => {
    await assert.rejects(forwardToNats(session, options), (error: unknown) => {
      assert.ok(error instanceof AqeventError && error.code === 'invalid_argument', String(error));
      assert.match(error.message, pattern);
      return true;
    });
  };
  await refused({ servers: SHARED_NATS, subject: 'aqx.{nope}' }, /unknown placeholder \{nope\}/);
  await refused({ servers: SHARED_NATS, subject: 'aqx.a{table}' }, /a placeholder must be a whole token/);
  await refused({ servers: SHARED_NATS, subject: '{schema}.x' }, /must start with a literal token/);
  await refused({ servers: SHARED_NATS, subject: 'aqx..{table}' }, /empty token/);
  await refused({ servers: SHARED_NATS, stream: 'has space' }, /stream/);
  await refused({ servers: SHARED_NATS, maxInFlight: 0 } as never, /maxInFlight/);
  // A stream that exists with other subjects: the template must fall under them.
  const stream = streamName('OTHER');
  const controller = new AbortController();
  const first = forwardToNats(session, { servers: SHARED_NATS, stream, subject: testSubject(stream), signal: controller.signal });
  await eventually(async () => ((await liveForwarders(db.pool)).some((f) => f.sessionId === session.id) ? true : undefined), 'the first forwarder', 60_000);
  await refused({ servers: SHARED_NATS, stream, subject: 'elsewhere.{table}' }, new RegExp(`stream "${stream}" does not take subject "elsewhere.x"`));
  controller.abort();
  await first;

  const cli = await runCli(['--database-url', db.url, 'forward', session.id, '--subject', 'aqx.{nope}']);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^aqevent: invalid subject template "aqx.\{nope\}": unknown placeholder/m);
  const usage = await runCli(['--database-url', db.url, 'forward', session.id, '--batch', 'many']);
  assert.equal(usage.code, 2);
});
