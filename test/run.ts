/**
 * The test harness behind `npm test`.
 *
 * Uses DATABASE_URL when set, else starts an embedded PostgreSQL in a
 * temporary directory. Migrates a template database once; every test file
 * clones it into a database of its own (test/support/database.ts), so files
 * run in parallel. Arguments are passed to `node --test` (file names, flags).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensureEmbedded, stopEmbedded } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { freePort } from './support/ports.js';
import { ADMIN_URL_VAR, RUN_ID_VAR, TEMPLATE_VAR } from './support/harness-env.js';

const runId = `${process.pid}_${Date.now().toString(36)}`;
const template = `aqevent_tpl_${runId}`;

async function adminUrl(): Promise<{ url: string; cleanup: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, cleanup: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), 'aqevent-test-'));
  await chmod(dir, 0o755); // the server runs as the postgres user when we are root
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const server = await ensureEmbedded({ dataDir, port });
  console.log(`# embedded PostgreSQL in ${dataDir} on port ${port}`);
  return {
    url: server.connectionString,
    cleanup: async () => {
      await stopEmbedded({ dataDir });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function dropRunDatabases(url: string): Promise<void> {
  await admin(url, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'aqevent\\_%' AND datname LIKE '%' || $1 || '%'", [runId]);
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    const roles = await client.query<{ rolname: string }>(
      "SELECT rolname FROM pg_roles WHERE rolname LIKE 'aqt\\_%' AND rolname LIKE '%' || $1 || '%'", [runId]);
    for (const { rolname } of roles.rows) await client.query(`DROP ROLE IF EXISTS "${rolname}"`).catch(() => {});
  });
}

async function testFiles(): Promise<string[]> {
  const files = (await readdir('test')).filter((name) => name.endsWith('.test.ts')).sort();
  return files.map((name) => join('test', name));
}

async function main(): Promise<number> {
  const { url, cleanup } = await adminUrl();
  try {
    await admin(url, (client) => client.query(`CREATE DATABASE "${template}"`));
    const pool = new pg.Pool({ connectionString: withDatabase(url, template), max: 1 });
    await migrate(pool);
    await pool.end();
    const args = process.argv.slice(2);
    const files = args.some((arg) => !arg.startsWith('-')) ? [] : await testFiles();
    const child = spawn(process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=4', '--test-timeout=300000', ...args, ...files],
      { stdio: 'inherit', env: { ...process.env, [ADMIN_URL_VAR]: url, [TEMPLATE_VAR]: template, [RUN_ID_VAR]: runId } });
    return await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  } finally {
    await dropRunDatabases(url).catch((error) => console.error('cleanup:', error));
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
