// Maintenance on pg-boss's scheduler (real pg-boss, short cron monitor
// interval), and the maintain / purge commands as subprocesses.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import PgBoss from 'pg-boss';
import { type MaintenanceSummary, scheduleMaintenance } from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { BIN, runCli } from './support/cli.js';
import { createRoles, endRoles, eventually, type TestRole } from './support/roles.js';

let db: TestDatabase;
let roles: Record<'admin' | 'user', TestRole>;
before(async () => {
  db = await createTestDatabase();
  roles = await createRoles(db, ['admin', 'user'] as const);
  await db.pool.query(`GRANT aqevent_admin TO ${roles.admin.sql}; GRANT aqevent_user TO ${roles.user.sql}`);
});
after(async () => {
  await endRoles(roles);
  await db.drop();
});

const sessionCount = async (id: string) => (await db.pool.query('SELECT count(*)::int AS n FROM event.session WHERE id = $1', [id])).rows[0].n;

async function expiredSession(): Promise<string> {
  const { id } = (await db.pool.query("SELECT event.session_create(interval '1 minute') AS id")).rows[0];
  await db.pool.query("UPDATE event.session SET last_attached_at = now() - interval '1 hour' WHERE id = $1", [id]);
  return id;
}

test('the scheduled job runs maintenance once per cron slot, however many workers there are', async () => {
  const expired = await expiredSession();
  const boss = new PgBoss({ connectionString: db.url, max: 4, cronMonitorIntervalSeconds: 1, cronWorkerIntervalSeconds: 1 });
  boss.on('error', () => {});
  await boss.start();
  try {
    const passes: MaintenanceSummary[] = [];
    // Two schedules: as two `aqevent maintain` processes would set up.
    const schedules = await Promise.all([1, 2].map(() => scheduleMaintenance({
      pool: roles.admin.pool, boss, cron: '* * * * *', pollingIntervalSeconds: 0.5, onPass: (s) => passes.push(s),
    })));
    await eventually(async () => (passes.length > 0 ? true : undefined), 'a scheduled maintenance pass', 20_000);
    assert.equal(await sessionCount(expired), 0, 'the pass expired the session');
    assert.equal(passes[0]!.sessionsExpired, 1);
    await Promise.all(schedules.map((s) => s.stop()));
    // Every job (one per cron slot that passed: one, or two across a minute
    // boundary) ran one pass, on one of the two workers.
    const jobs = await eventually(async () => {
      const { rows } = await db.pool.query("SELECT state FROM pgboss.job WHERE name = 'aqevent-maintenance'");
      return rows.every((r) => r.state !== 'active') ? rows : undefined;
    }, 'the jobs to settle');
    const completed = jobs.filter((r) => r.state === 'completed').length;
    assert.ok(completed >= 1 && completed <= 2, `${completed} jobs completed`);
    assert.equal(passes.length, completed, 'one pass per job');
    const schedule = (await db.pool.query("SELECT cron FROM pgboss.schedule WHERE name = 'aqevent-maintenance'")).rows;
    assert.deepEqual(schedule, [{ cron: '* * * * *' }]);
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
});

test('aqevent maintain --once and aqevent purge', async () => {
  const expired = await expiredSession();
  const once = await runCli(['--database-url', roles.admin.url, '--json', 'maintain', '--once', '--dead-letter-age', '30d']);
  assert.equal(once.code, 0, once.stderr);
  assert.equal(JSON.parse(once.stdout).sessionsExpired, 1);
  assert.equal(JSON.parse(once.stdout).vacuumed, false);
  assert.equal(await sessionCount(expired), 0);
  // --vacuum: the owner may; aqevent_admin only where MAINTAIN exists (17+).
  const pg17 = Number((await db.pool.query('SHOW server_version_num')).rows[0].server_version_num) >= 170000;
  for (const [url, may] of [[db.url, true], [roles.admin.url, pg17]] as const) {
    const vacuumed = await runCli(['--database-url', url, '--json', 'maintain', '--once', '--vacuum']);
    assert.equal(vacuumed.code, 0, vacuumed.stderr);
    assert.equal(JSON.parse(vacuumed.stdout).vacuumed, may);
  }
  const lastVacuum = (await db.pool.query("SELECT last_vacuum FROM pg_stat_all_tables WHERE relid = 'event.inbox'::regclass")).rows[0];
  assert.ok(lastVacuum.last_vacuum, 'VACUUM ran');

  const purged = await runCli(['--database-url', roles.admin.url, '--json', 'purge', '--older-than', '7d']);
  assert.equal(purged.code, 0, purged.stderr);
  assert.deepEqual(JSON.parse(purged.stdout), { deadLetters: 0, pending: 0 });
  const withPending = await runCli(['--database-url', roles.admin.url, 'purge', '--older-than', '0s', '--pending']);
  assert.equal(withPending.code, 0, withPending.stderr);
  assert.match(withPending.stdout, /purged 0 dead letters and \d+ pending events/);

  const refused = await runCli(['--database-url', roles.user.url, 'maintain', '--once']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /permission denied for function maintain.*\[42501\]/);
  const bad = await runCli(['--database-url', roles.admin.url, 'purge', '--older-than', 'soon']);
  assert.equal(bad.code, 2, 'a usage error');
  assert.match(bad.stderr, /"soon" is not a duration/);
});

test('aqevent maintain schedules with pg-boss and stops on SIGTERM', async () => {
  // As the database owner: pg-boss needs rights on its schema besides aqevent_admin.
  const child = spawn(process.execPath, [BIN, '--database-url', db.url, 'maintain', '--cron', '*/10 * * * *'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await eventually(async () => (/maintenance scheduled/.test(stderr) ? true : undefined), 'the schedule', 20_000);
  const schedule = (await db.pool.query("SELECT cron FROM pgboss.schedule WHERE name = 'aqevent-maintenance'")).rows;
  assert.deepEqual(schedule, [{ cron: '*/10 * * * *' }]);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
