import pg from 'pg';
import { AqeventError } from '../errors.js';
import { type EmbeddedOptions, ensureEmbedded } from './embedded.js';

/** How to reach PostgreSQL. With none of these, the embedded server is used. */
export interface ConnectionOptions {
  /** A connection string (postgres://…). */
  connectionString?: string;
  /** A pool you own; aqevent will not end it. */
  pool?: pg.Pool;
  /** Settings of the embedded server, when it is the one used. */
  embedded?: EmbeddedOptions;
  /** Environment to read DATABASE_URL and PG* from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedConnection {
  /** Options for new pg clients (LISTEN needs a dedicated one). */
  clientConfig: pg.ClientConfig;
  /** Where it points, for people: no password. */
  description: string;
}

const PG_ENV_VARS = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGSERVICE'];

/** Resolves: explicit string, then DATABASE_URL, then PG* variables, then embedded. */
export async function resolveConnection(options: ConnectionOptions = {}): Promise<ResolvedConnection> {
  const env = options.env ?? process.env;
  const explicit = options.connectionString ?? (env.DATABASE_URL || undefined);
  if (explicit) {
    if (!/^postgres(ql)?:\/\//.test(explicit)) {
      throw new AqeventError('invalid_argument', `not a PostgreSQL connection string: "${redact(explicit)}" (expected postgres://user@host:port/database)`);
    }
    return { clientConfig: { connectionString: explicit }, description: redact(explicit) };
  }
  if (PG_ENV_VARS.some((name) => env[name])) {
    // node-postgres reads the PG* variables itself.
    return { clientConfig: {}, description: `PG* environment (${env.PGHOST ?? 'localhost'}/${env.PGDATABASE ?? env.PGUSER ?? ''})` };
  }
  const server = await ensureEmbedded(options.embedded);
  return { clientConfig: { connectionString: server.connectionString }, description: `embedded PostgreSQL (${server.dataDir}, port ${server.port})` };
}

export function redact(connectionString: string): string {
  return connectionString.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

export interface PoolSettings {
  /** false: leases and acks do not wait for their WAL flush (aqevent.durable_leases = off on every connection). */
  durableLeases?: boolean;
}

/** A pool for the resolved connection, with errors of idle clients absorbed. */
export function createPool(resolved: ResolvedConnection, max = 10, { durableLeases = true }: PoolSettings = {}): pg.Pool {
  const pool = new pg.Pool({ ...resolved.clientConfig, max });
  // An idle client dropped by the server must not crash the process.
  pool.on('error', () => {});
  // Queued on the new client before any query the pool hands it out for; a
  // failure surfaces as that query's connection error.
  if (!durableLeases) pool.on('connect', (client) => { client.query("SET aqevent.durable_leases = 'off'").catch(() => {}); });
  return pool;
}
