// The embedded default: no DATABASE_URL, no PG* — the CLI starts its own PostgreSQL, keyed to the checkout, and data persists.
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { stopEmbedded } from '../src/db/embedded.js';
import { runCli } from './support/cli.js';
import { atEnd, NO_DATABASE, occupyDefaultPort, openFolder, freePort, statusOf } from './support/embedded.js';

test('two CLI runs share one embedded server and its data; a taken default port makes it take the next free one', async () => {
  const dataDir = join(await openFolder(), 'data');
  atEnd(() => stopEmbedded({ dataDir }));
  await occupyDefaultPort();
  const env = { ...NO_DATABASE, AQEVENT_DATA_DIR: dataDir };
  const first = await runCli(['migrate'], env, 120_000);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /ran sql\/install\.sql/);
  const status = await statusOf(env);
  assert.equal(status.running, true);
  assert.notEqual(status.port, 54329, 'the default port is held by another program');
  assert.equal(status.startedBy, status.checkout);
  const second = await runCli(['migrate'], env, 60_000);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /schema is current/, 'the second process found the first one\'s schema');
  assert.equal((await statusOf(env)).pid, status.pid, 'the same server');
});

test('embedded status starts nothing; stop stops it, says so in --json, and a second stop finds nothing to stop', async () => {
  const dataDir = join(await openFolder(), 'data');
  atEnd(() => stopEmbedded({ dataDir }));
  const env = { ...NO_DATABASE, AQEVENT_DATA_DIR: dataDir, AQEVENT_EMBEDDED_PORT: String(await freePort()) };
  const before = await statusOf(env);
  assert.deepEqual([before.initialised, before.running, before.pid], [false, false, null]);
  assert.equal(before.dataDir, dataDir);
  await assert.rejects(stat(join(dataDir, 'PG_VERSION')), 'status created no cluster');

  const migrated = await runCli(['migrate'], env, 120_000);
  assert.equal(migrated.code, 0, migrated.stderr);
  const running = await statusOf(env);
  assert.equal(running.running, true);
  assert.equal(running.port, Number(env.AQEVENT_EMBEDDED_PORT));
  assert.match(running.connectionString, new RegExp(`:${running.port}/aqevent$`));
  const human = await runCli(['embedded', 'status'], env);
  assert.match(human.stdout, new RegExp(`running \\(ready\\), pid ${running.pid}, port ${running.port}`));

  const stopped = await runCli(['embedded', 'stop', '--json'], env, 60_000);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.deepEqual(JSON.parse(stopped.stdout), { dataDir, pid: running.pid, stopped: true });
  assert.throws(() => process.kill(running.pid, 0), /ESRCH/, 'the server process is gone');
  assert.equal((await statusOf(env)).running, false);
  const again = await runCli(['embedded', 'stop'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /is not running/);
});

test('three commands at once on a fresh data directory: one creates and starts the server, all three use it', async () => {
  const dataDir = join(await openFolder(), 'data');
  atEnd(() => stopEmbedded({ dataDir }));
  const env = { ...NO_DATABASE, AQEVENT_DATA_DIR: dataDir, AQEVENT_EMBEDDED_PORT: String(await freePort()) };
  const results = await Promise.all([1, 2, 3].map(() => runCli(['migrate'], env, 120_000)));
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  assert.equal((await statusOf(env)).running, true);
  await assert.rejects(stat(`${dataDir}.lock`), 'the start lock is released');
});

test('a data directory that cannot be made is one line that says what to do', async () => {
  const file = join(await openFolder(), 'a-file');
  await writeFile(file, '');
  const result = await runCli(['stats'], { ...NO_DATABASE, AQEVENT_DATA_DIR: join(file, 'data') });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^aqevent: cannot set up the embedded PostgreSQL in .*a-file\/data: .*(ENOTDIR|EEXIST).*; set AQEVENT_DATA_DIR to a folder you may write, or DATABASE_URL/);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
});
