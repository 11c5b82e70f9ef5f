/**
 * Leases across a real server crash (issue #15, item 5): a server of this
 * file's own, stopped with `pg_ctl stop -m immediate` right after a fetch made
 * through the library, then started again. docs/guarantees.md, "What happens
 * on crash or disconnect": every event still comes (nothing lost, nothing
 * acked by the crash); by default the lease survives too, every time; with
 * durableLeases: false it may or may not. A clean (fast) shutdown keeps it.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Aqevent } from '../src/client.js';
import { ensureEmbedded, stopEmbedded } from '../src/db/embedded.js';
import { readRecord, runningServer, waitForExit } from '../src/db/embedded-state.js';
import { serverUser } from '../src/db/embedded-user.js';
import { migrate } from '../src/db/migrate.js';
import { freePort } from './support/ports.js';
import { runProcess } from '../src/db/run-process.js';
import type { Session } from '../src/session.js';

const LEASE_MS = 60_000;
let dir: string;
let dataDir: string;
let port: number;
let url: string;

/** The environment for pg_ctl: libpq variables would override its settings. */
const serverEnv = () => Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG')));

async function start(): Promise<void> {
  url = (await ensureEmbedded({ dataDir, port })).connectionString;
}

async function stopImmediately(): Promise<void> {
  const record = await readRecord(dataDir);
  assert.ok(record, 'the embedded server left its record');
  const pid = (await runningServer(dataDir))?.pid;
  const result = await runProcess(join(record.binaries, 'bin', 'pg_ctl'), ['stop', '-m', 'immediate', '-w', '-D', dataDir],
    { user: await serverUser(), env: serverEnv() });
  assert.equal(result.code, 0, result.stderr);
  if (pid) assert.ok(await waitForExit(pid, 30_000), 'the postmaster exited');
}

async function connect(durableLeases = true): Promise<Aqevent> {
  return Aqevent.connect({ connectionString: url, poolSize: 2, durableLeases });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aqevent-crash-'));
  await chmod(dir, 0o755); // as root the server runs as the postgres user, which must reach the data directory
  dataDir = join(dir, 'data');
  port = await freePort();
  await start();
  const aq = await connect();
  try {
    await migrate(aq.pool);
    await aq.pool.query('CREATE TABLE public.job (id int PRIMARY KEY, v text)');
  } finally {
    await aq.close();
  }
});

after(async () => {
  await stopEmbedded({ dataDir }).catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

let nextId = 0;
/** A new session on public.job with five new rows' inserts queued; its ids. */
async function fiveEvents(aq: Aqevent): Promise<{ session: Session; ids: string[] }> {
  const session = await aq.createSession();
  await session.subscribeTable('public.job');
  const first = nextId + 1;
  nextId += 5;
  await aq.pool.query('INSERT INTO public.job (id, v) SELECT g, $3 FROM generate_series($1::int, $2::int) AS g', [first, nextId, 'x']);
  const ids = (await session.peek()).map((event) => event.id);
  assert.equal(ids.length, 5);
  return { session, ids };
}

type Outcome = 'kept' | 'lost';

/**
 * After the restart: every id still queued, none acked; either all leased by
 * the fetch before the crash (kept) or all deliverable, their attempt not
 * counted (lost). One fetch took all five in one transaction, so never a mix.
 */
async function afterRestart(session: Session, ids: string[], fetchedAt: number): Promise<Outcome> {
  const queued = await session.peek();
  assert.deepEqual(queued.map((event) => event.id), ids, 'no event is lost and none acked by the crash');
  const leased = queued.filter((event) => event.leasedUntil !== null);
  assert.ok(leased.length === 0 || leased.length === ids.length, `all or none leased, not ${leased.length} of ${ids.length}`);
  const again = await session.fetch({ max: 10, lease: LEASE_MS });
  if (leased.length === ids.length) {
    for (const event of queued) {
      assert.equal(event.attempts, 1);
      assert.ok(Math.abs(event.leasedUntil!.getTime() - (fetchedAt + LEASE_MS)) < 15_000, 'the lease ends when it did before');
    }
    assert.deepEqual(again, [], 'a kept lease: nothing to fetch until it ends');
    return 'kept';
  }
  for (const event of queued) assert.equal(event.attempts, 0, 'a lost fetch counted no attempt');
  assert.deepEqual(again.map((event) => [event.id, event.attempts]), ids.map((id) => [id, 1]), 'a lost lease: the events come back at once');
  return 'lost';
}

test('durableLeases: false, server crash (immediate shutdown) right after a fetch: nothing lost, at-least-once, ack works after the restart', async (t) => {
  const tries = 3;
  const outcomes: Outcome[] = [];
  for (let attempt = 1; attempt <= tries; attempt++) {
    let aq = await connect(false);
    const { session, ids } = await fiveEvents(aq);
    const fetchedAt = Date.now();
    const fetched = await session.fetch({ max: 10, lease: LEASE_MS });
    assert.deepEqual(fetched.map((event) => event.id), ids);
    await stopImmediately(); // within milliseconds of the fetch's commit, the connection still open
    await aq.close().catch(() => {});
    await start();
    aq = await connect();
    try {
      const same = aq.session(session.id);
      outcomes.push(await afterRestart(same, ids, fetchedAt));
      assert.equal(await same.ack(ids), ids.length, 'every event acked after the restart');
      assert.deepEqual(await same.peek(), []);
    } finally {
      await aq.close();
    }
  }
  t.diagnostic(`lease after immediate shutdown: ${outcomes.join(', ')} ` +
    `(${outcomes.filter((o) => o === 'lost').length} of ${tries} lost)`);
});

test('clean (fast) shutdown after a fetch: the lease is kept', async () => {
  let aq = await connect();
  const { session, ids } = await fiveEvents(aq);
  const fetchedAt = Date.now();
  assert.deepEqual((await session.fetch({ max: 10, lease: LEASE_MS })).map((event) => event.id), ids);
  await aq.close();
  assert.equal(await stopEmbedded({ dataDir }), true);
  await start();
  aq = await connect();
  try {
    const same = aq.session(session.id);
    assert.equal(await afterRestart(same, ids, fetchedAt), 'kept');
    assert.equal(await same.ack(ids), ids.length);
  } finally {
    await aq.close();
  }
});

test('by default leases are durable: an immediate shutdown right after a fetch keeps the lease, every time', async () => {
  for (let attempt = 1; attempt <= 3; attempt++) {
    let aq = await connect();
    const { session, ids } = await fiveEvents(aq);
    const fetchedAt = Date.now();
    assert.deepEqual((await session.fetch({ max: 10, lease: LEASE_MS })).map((event) => event.id), ids);
    await stopImmediately();
    await aq.close().catch(() => {});
    await start();
    aq = await connect();
    try {
      const same = aq.session(session.id);
      assert.equal(await afterRestart(same, ids, fetchedAt), 'kept', `attempt ${attempt}: the durable lease survived the crash`);
      assert.equal(await same.ack(ids), ids.length);
    } finally {
      await aq.close();
    }
  }
});

test('durableLeases: false sets aqevent.durable_leases = off on the pool; with a pool of your own it is refused, naming the setting', async () => {
  const aq = await connect(false);
  try {
    const setting = await aq.pool.query<{ v: string }>("SELECT current_setting('aqevent.durable_leases') AS v");
    assert.equal(setting.rows[0]!.v, 'off');
    await assert.rejects(Aqevent.connect({ pool: aq.pool, durableLeases: false }),
      (error: Error & { code?: string }) => /aqevent\.durable_leases/.test(error.message) && error.code === 'invalid_argument');
  } finally {
    await aq.close();
  }
});
