// The embedded server run by root: from a checkout only root can enter, and where its user cannot reach.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopEmbedded } from '../src/db/embedded.js';
import { runCli } from './support/cli.js';
import { atEnd, NO_DATABASE, occupyDefaultPort, privateFolder, freePort, statusOf } from './support/embedded.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
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
  atEnd(() => rm(dirname(status.dataDir), { recursive: true, force: true }));
  atEnd(() => stopEmbedded({ dataDir: status.dataDir }));

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
  const env = { ...NO_DATABASE, AQEVENT_DATA_DIR: join(await privateFolder(), 'data'), AQEVENT_EMBEDDED_PORT: String(await freePort()) };
  const result = await runCli(['migrate'], env, 60_000);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^aqevent: the embedded PostgreSQL runs as user "postgres" \(not root\), which cannot enter .*: set AQEVENT_DATA_DIR/);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
});
