// `aqevent tail` as a real long-running subprocess: backlog then live, latency, signals, lost connections.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { runCli, startCli } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;

before(async () => {
  db = await createTestDatabase();
  await db.pool.query('CREATE TABLE public.reading (id int PRIMARY KEY, value numeric)');
});
after(() => db.drop());

async function newSession(): Promise<string> {
  const created = await runCli(['--database-url', db.url, '--json', 'session', 'create']);
  assert.equal(created.code, 0, created.stderr);
  const id = JSON.parse(created.stdout).id as string;
  const subscribed = await runCli(['--database-url', db.url, 'subscribe', id, 'table', 'public.reading']);
  assert.equal(subscribed.code, 0, subscribed.stderr);
  return id;
}

/** Kills every other connection to the test database: the CLI's LISTEN and pool connections among them. */
async function terminateConnections(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid()`);
  return rows[0]!.n;
}

const idOf = (line: string) => String(JSON.parse(line).id);

test('tail --json: backlog, then a new event within a second of its commit; read only; SIGINT exits 0', async () => {
  const session = await newSession();
  await db.pool.query('INSERT INTO public.reading VALUES (1, 12345678901234567890.123456789)');
  const tail = startCli(['--database-url', db.url, 'tail', session, '--json']);
  try {
    const backlog = await tail.waitForLine(() => true);
    assert.match(backlog.line, /"value": 12345678901234567890\.123456789\b/); // lossless, as stored
    // The listener is up once the backlog is printed (LISTEN comes before the first fetch).
    const latencies: number[] = [];
    for (let i = 2; i <= 4; i++) {
      const committing = performance.now();
      await db.pool.query('INSERT INTO public.reading VALUES ($1, $2)', [i, i]);
      const arrived = await tail.waitForLine((line) => JSON.parse(line).payload.id === i, 5_000);
      latencies.push(arrived.at - committing);
    }
    console.log(`# tail latency from commit to line (ms): ${latencies.map((ms) => ms.toFixed(1)).join(', ')}`);
    for (const ms of latencies) assert.ok(ms < 1000, `line after ${ms} ms`);

    // Lost connections: tail reconnects and misses nothing committed meanwhile.
    assert.ok(await terminateConnections() >= 1);
    await db.pool.query('INSERT INTO public.reading VALUES (5, 5), (6, 6)');
    await tail.waitForLine((line) => JSON.parse(line).payload.id === 6, 10_000);
    assert.equal(await tail.stop('SIGINT'), 0, tail.stderr());
    assert.deepEqual(tail.lines.map((line) => JSON.parse(line).payload.id), [1, 2, 3, 4, 5, 6], 'each once');
  } finally {
    await tail.stop('SIGKILL');
  }
  // Read only: everything is still pending, no attempt counted.
  const { rows } = await db.pool.query('SELECT count(*)::int AS n, max(attempts) AS attempts FROM event.pending_event WHERE session_id = $1', [session]);
  assert.deepEqual(rows[0], { n: 6, attempts: 0 });
});

test('tail --ack consumes, survives pg_terminate_backend of its connections, and stops on SIGTERM', async () => {
  const session = await newSession();
  await db.pool.query('INSERT INTO public.reading VALUES (101, 1)');
  const tail = startCli(['--database-url', db.url, 'tail', session, '--json', '--ack']);
  try {
    await tail.waitForLine(() => true);
    assert.ok(await terminateConnections() >= 1);
    await db.pool.query('INSERT INTO public.reading VALUES (102, 2)');
    await db.pool.query('INSERT INTO public.reading VALUES (103, 3)');
    await tail.waitForLine((line) => JSON.parse(line).payload.id === 103, 10_000);
    assert.equal(await tail.stop('SIGTERM'), 0, tail.stderr());
  } finally {
    await tail.stop('SIGKILL');
  }
  const ids = tail.lines.map(idOf);
  assert.deepEqual(tail.lines.map((line) => JSON.parse(line).payload.id), [101, 102, 103]);
  assert.equal(new Set(ids).size, 3);
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM event.pending_event WHERE session_id = $1', [session]);
  assert.equal(rows[0].n, 0, 'every printed event was acknowledged');
});
