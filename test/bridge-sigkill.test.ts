// The bridge killed (SIGKILL) at random moments: every event is either still
// in the session or a job in pg-boss, never both, never neither -- at every
// kill point and at the end. The bridge runs as a real CLI subprocess.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { BIN, runCli } from './support/cli.js';
import { eventually } from './support/roles.js';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db.drop());

// Enough that five rounds of start, move and kill cannot move them all, even on an idle machine.
const EVENTS = 6000;
const QUEUE = 'moved-events';

// Both places are read in one snapshot: a bridge killed just after sending
// COMMIT leaves a backend that commits after the process is gone, and two
// separate reads around that commit would see its events in both places.
async function where(sessionId: string): Promise<{ inSession: Set<string>; inBoss: string[] }> {
  const client = await db.pool.connect();
  try {
    // the session's reader first makes the committed changes into events (a read-only
    // transaction reads what is there)
    await client.query('SELECT count(*) FROM event.peek($1, 1)', [sessionId]);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const session = await client.query<{ id: string }>("SELECT event->>'id' AS id FROM event.pending_event WHERE session_id = $1", [sessionId]);
    const installed = (await client.query("SELECT to_regclass('pgboss.job') IS NOT NULL AS ok")).rows[0].ok;
    const boss = installed
      ? await client.query<{ id: string }>("SELECT data->>'id' AS id FROM pgboss.job WHERE name = $1", [QUEUE])
      : { rows: [] };
    await client.query('COMMIT');
    return { inSession: new Set(session.rows.map((r) => r.id)), inBoss: boss.rows.map((r) => r.id) };
  } finally {
    client.release();
  }
}

/** Waits until the killed bridge's backend has ended (committed or rolled back its last move). */
async function backendGone(appName: string): Promise<void> {
  await eventually(async () => {
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [appName]);
    return rows[0].n === 0 ? true : undefined;
  }, `the backend of ${appName} to end`);
}

async function assertEachOnce(sessionId: string, all: string[], when: string): Promise<number> {
  const { inSession, inBoss } = await where(sessionId);
  const bossSet = new Set(inBoss);
  assert.equal(bossSet.size, inBoss.length, `${when}: no event has two jobs`);
  for (const id of inBoss) assert.ok(!inSession.has(id), `${when}: event ${id} is in both`);
  assert.equal(inSession.size + bossSet.size, all.length, `${when}: no event is lost`);
  for (const id of all) assert.ok(inSession.has(id) || bossSet.has(id), `${when}: event ${id} is somewhere`);
  return bossSet.size;
}

function startBridge(sessionId: string, appName: string): ChildProcess {
  return spawn(process.execPath, [BIN, '--database-url', db.url, 'bridge', sessionId, '--queue', QUEUE, '--batch-size', '25'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PGAPPNAME: appName } });
}

test('SIGKILL at random moments loses and duplicates nothing', async (t) => {
  await db.pool.query('CREATE TABLE public.work (id int PRIMARY KEY)');
  const sessionId = (await db.pool.query('SELECT event.session_create() AS id')).rows[0].id;
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'work'))", [sessionId]);
  await db.pool.query('INSERT INTO public.work SELECT generate_series(1, $1::int)', [EVENTS]);
  const all = (await where(sessionId)).inSession;
  assert.equal(all.size, EVENTS);
  const ids = [...all];

  let moved = 0;
  let kills = 0;
  for (let round = 0; round < 5 && moved < EVENTS; round++) {
    const appName = `bridge-sigkill-${round}`;
    const child = startBridge(sessionId, appName);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Kill once it is moving (or, sometimes, while it is still starting).
    if (round > 0) {
      await eventually(async () => ((await where(sessionId)).inBoss.length > moved ? true : undefined), 'the bridge to move events', 30_000);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 150));
    child.kill('SIGKILL');
    await exited;
    kills++;
    // Every kill point is checked as it stands, then again once the backend has settled.
    await assertEachOnce(sessionId, ids, `just after kill ${kills}`);
    await backendGone(appName);
    moved = await assertEachOnce(sessionId, ids, `after kill ${kills}`);
    t.diagnostic(`kill ${kills}: ${moved} of ${EVENTS} events moved`);
  }
  assert.ok(moved < EVENTS, 'the kills happened while events were left to move');

  const final = await runCli(['--database-url', db.url, 'bridge', sessionId, '--queue', QUEUE, '--until-empty'], {}, 60_000);
  assert.equal(final.code, 0, final.stderr);
  assert.equal(await assertEachOnce(sessionId, ids, 'at the end'), EVENTS);
  assert.equal((await where(sessionId)).inSession.size, 0);
  // Job ids are the deterministic ones: one per event, in the queue.
  const jobs = await db.pool.query('SELECT count(DISTINCT id) AS n FROM pgboss.job WHERE name = $1', [QUEUE]);
  assert.equal(Number(jobs.rows[0].n), EVENTS);
});

test('SIGTERM stops the bridge gracefully; it waits for live events until then', async () => {
  const sessionId = (await db.pool.query('SELECT event.session_create() AS id')).rows[0].id;
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', 'work'))", [sessionId]);
  const child = spawn(process.execPath, [BIN, '--database-url', db.url, 'bridge', sessionId, '--queue', 'live-events'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await eventually(async () => (/bridging session/.test(stderr) ? true : undefined), 'the bridge to start', 20_000);
  await db.pool.query('INSERT INTO public.work SELECT generate_series(100001, 100010)');
  const jobs = async () => (await db.pool.query("SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'live-events'")).rows[0].n;
  await eventually(async () => ((await jobs()) === 10 ? true : undefined), 'the live events to be moved');
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stdout, /moved 10 events/);
});
