// The embedded default: no DATABASE_URL, no PG* — the CLI starts its own PostgreSQL, and data persists.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { stopEmbedded } from '../src/db/embedded.js';
import { runCli } from './support/cli.js';

let dir: string | undefined;
after(async () => {
  if (!dir) return;
  await stopEmbedded({ dataDir: join(dir, 'data') });
  await rm(dir, { recursive: true, force: true });
});

test('two CLI runs share one embedded server and its data', async () => {
  dir = await mkdtemp(join(tmpdir(), 'aqevent-embedded-'));
  await chmod(dir, 0o755);
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: '', PGHOST: '', PGPORT: '', PGDATABASE: '', PGUSER: '', PGHOSTADDR: '', PGSERVICE: '',
    AQEVENT_DATA_DIR: join(dir, 'data'),
    AQEVENT_EMBEDDED_PORT: String(50000 + Math.floor(Math.random() * 4000)),
  };
  const first = await runCli(['migrate'], env, 120_000);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /ran sql\/install\.sql/);
  const second = await runCli(['migrate'], env, 60_000);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /schema is current/, 'the second process found the first one\'s schema');
});
