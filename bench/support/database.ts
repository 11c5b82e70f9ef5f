/**
 * A throw-away database for one benchmark run: created next to whatever
 * resolveConnection() picks (DATABASE_URL, PG*, or the embedded server),
 * migrated with the project's own migrate(), dropped at the end.
 */
import pg from 'pg';
import { createPool, resolveConnection, type ResolvedConnection } from '../../src/db/connect.js';
import { migrate } from '../../src/db/migrate.js';

export interface BenchDatabase {
  name: string;
  /** Where the server is, for people. */
  description: string;
  /** A pool on the bench database, as the admin role. */
  pool: pg.Pool;
  /** How to connect to the bench database (for pg-boss and child processes; PG* come from the environment). */
  clientConfig: pg.ClientConfig;
  /** A new, unpooled client on the bench database (one per writer). */
  client(): Promise<pg.Client>;
  /** Another throw-away database on the same server, migrated the same way (dropped by its own drop()). */
  sibling(suffix: string): Promise<BenchDatabase>;
  drop(): Promise<void>;
}

function onDatabase(resolved: ResolvedConnection, database: string): pg.ClientConfig {
  const { connectionString } = resolved.clientConfig;
  if (!connectionString) return { ...resolved.clientConfig, database };
  const url = new URL(connectionString);
  url.pathname = `/${database}`;
  return { ...resolved.clientConfig, connectionString: url.toString() };
}

async function withAdmin<T>(resolved: ResolvedConnection, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(resolved.clientConfig);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(resolved: ResolvedConnection, name: string): Promise<BenchDatabase> {
  await withAdmin(resolved, (admin) => admin.query(`CREATE DATABASE "${name}"`));
  const config = onDatabase(resolved, name);
  const pool = createPool({ clientConfig: config, description: resolved.description }, 4);
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end();
    await withAdmin(resolved, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    throw error;
  }
  return {
    name,
    description: resolved.description,
    pool,
    clientConfig: config,
    async client() {
      const client = new pg.Client(config);
      client.on('error', () => {});
      await client.connect();
      return client;
    },
    sibling: (suffix) => createDatabase(resolved, `${name}_${suffix}`),
    async drop() {
      await pool.end();
      await withAdmin(resolved, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const resolved = await resolveConnection();
  return createDatabase(resolved, `aqevent_bench_${process.pid}_${Date.now().toString(36)}`);
}
