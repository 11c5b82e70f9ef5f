// The embedded default: no DATABASE_URL, no PG* — the CLI starts its own PostgreSQL, keyed to the checkout, and data persists.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopEmbedded } from '../src/db/embedded.js';
import { BIN, runCli } from './support/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NO_DATABASE: NodeJS.ProcessEnv = {
  DATABASE_URL: '', PGHOST: '', PGPORT: '', PGDATABASE: '', PGUSER: '', PGHOSTADDR: '', PGSERVICE: '', AQEVENT_EMBEDDED_PORT: '',
};
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A folder that only its owner can enter (mkdtemp makes it 0700). */
async function privateFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aqevent-embedded-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A folder anyone may enter: as root, the server's user must reach a data directory inside. */
async function openFolder(): Promise<string> {
  const dir = await privateFolder();
  await chmod(dir, 0o755);
  return dir;
}

const randomPort = () => 50000 + Math.floor(Math.random() * 4000);
const statusOf = async (env: NodeJS.ProcessEnv, bin = BIN) => {
  const result = await runCli(['embedded', 'status', '--json'], env, 30_000, bin);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, any>;
};

/** Holds the default port, so that a server started without AQEVENT_EMBEDDED_PORT has to take another one. */
async function occupyDefaultPort(): Promise<Server | undefined> {
  const server = createServer();
  const held = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false)); // already taken (another checkout's server): just as good
    server.listen(54329, '127.0.0.1', () => resolve(true));
  });
  if (!held) return undefined;
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return server;
}

test('two CLI runs share one embedded server and its data; a taken default port makes it take the next free one', async () => {
  const dataDir = join(await openFolder(), 'data');
  cleanups.push(() => stopEmbedded({ dataDir }));
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
  cleanups.push(() => stopEmbedded({ dataDir }));
  const env = { ...NO_DATABASE, AQEVENT_DATA_DIR: dataDir, AQEVENT_EMBEDDED_PORT: String(randomPort()) };
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
  cleanups.push(() => stopEmbedded({ dataDir }));
  const env = { ...NO_DATABASE, AQEVENT_DATA_DIR: dataDir, AQEVENT_EMBEDDED_PORT: String(randomPort()) };
  const results = await Promise.all([1, 2, 3].map(() => runCli(['migrate'], env, 120_000)));
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  assert.equal((await statusOf(env)).running, true);
  await assert.rejects(stat(`${dataDir}.lock`), 'the start lock is released');
});

const asRoot = process.getuid?.() === 0;

test('as root, a checkout in a folder only root can enter runs migrate and the demo on its own server', { skip: !asRoot && 'needs root' }, async () => {
  const folder = await privateFolder();
  assert.equal((await stat(folder)).mode & 0o777, 0o700);
  const app = join(folder, 'app');
  await mkdir(app);
  // Hard links: a copy whose paths the server's user cannot reach, made in milliseconds.
  await promisify(execFile)('cp', ['-al', ...['bin', 'dist', 'sql', 'node_modules', 'package.json'].map((name) => join(ROOT, name)), app]);
  const bin = join(app, 'bin', 'aqevent');
  await occupyDefaultPort();
  const env = { ...NO_DATABASE, AQEVENT_DATA_DIR: '' };
  const status = await statusOf(env, bin);
  assert.equal(status.checkout, app);
  assert.notEqual(status.dataDir, (await statusOf(env)).dataDir, 'another checkout, another data directory');
  cleanups.push(() => rm(dirname(status.dataDir), { recursive: true, force: true }));
  cleanups.push(() => stopEmbedded({ dataDir: status.dataDir }));

  const demo = await runCli(['demo'], env, 120_000, bin);
  assert.equal(demo.code, 0, demo.stderr);
  assert.equal(demo.stdout.split('\n').filter((line) => line.includes('←')).length, 4, demo.stdout);
  const started = await statusOf(env, bin);
  assert.equal(started.running, true);
  assert.equal(started.startedBy, app);
  assert.notEqual(started.port, 54329, 'the default port is held: it took another, shared with no one');
  assert.ok(!started.binaries.startsWith(folder), `the server runs binaries its user can read: ${started.binaries}`);
});

test('as root, a data directory the server user cannot reach is one line that says what to do', { skip: !asRoot && 'needs root' }, async () => {
  const env = { ...NO_DATABASE, AQEVENT_DATA_DIR: join(await privateFolder(), 'data'), AQEVENT_EMBEDDED_PORT: String(randomPort()) };
  const result = await runCli(['migrate'], env, 60_000);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^aqevent: the embedded PostgreSQL runs as user "postgres" \(not root\), which cannot enter .*: set AQEVENT_DATA_DIR/);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
});

test('a data directory that cannot be made is one line that says what to do', async () => {
  const file = join(await openFolder(), 'a-file');
  await writeFile(file, '');
  const result = await runCli(['stats'], { ...NO_DATABASE, AQEVENT_DATA_DIR: join(file, 'data') });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^aqevent: cannot set up the embedded PostgreSQL in .*a-file\/data: .*(ENOTDIR|EEXIST).*; set AQEVENT_DATA_DIR to a folder you may write, or DATABASE_URL/);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
});
