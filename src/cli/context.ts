import type pg from 'pg';
import { createPool, resolveConnection, type ResolvedConnection } from '../db/connect.js';

/** Options every command accepts (see main.ts). */
export interface GlobalOptions {
  databaseUrl?: string;
  json?: boolean;
}

export interface CommandContext {
  connection: ResolvedConnection;
  pool: pg.Pool;
  json: boolean;
  close(): Promise<void>;
}

/** Connects as the global options say: --database-url, DATABASE_URL, PG*, or embedded. */
export async function openContext(options: GlobalOptions): Promise<CommandContext> {
  const connection = await resolveConnection({ connectionString: options.databaseUrl });
  const pool = createPool(connection, 4);
  return {
    connection,
    pool,
    json: options.json ?? false,
    close: () => pool.end(),
  };
}
