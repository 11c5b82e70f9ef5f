import type { Command } from 'commander';
import type pg from 'pg';
import { Aqevent, createPool, resolveConnection, type ResolvedConnection } from '../index.js';

/** Options every command accepts (see main.ts). */
export interface GlobalOptions {
  databaseUrl?: string;
  json?: boolean;
}

export interface CommandContext {
  connection: ResolvedConnection;
  pool: pg.Pool;
  /** The library client on the same pool: commands are a thin shell over it. */
  aq: Aqevent;
  json: boolean;
  close(): Promise<void>;
}

/** Connects as the global options say: --database-url, DATABASE_URL, PG*, or embedded. */
export async function openContext(options: GlobalOptions): Promise<CommandContext> {
  const connection = await resolveConnection({ connectionString: options.databaseUrl });
  const pool = createPool(connection, 4);
  const aq = await Aqevent.connect({ pool });
  return {
    connection,
    pool,
    aq,
    json: options.json ?? false,
    close: async () => {
      await aq.close();
      await pool.end();
    },
  };
}

/** Opens a context for the command, runs body, always closes. */
export async function withContext<T>(command: Command, body: (context: CommandContext) => Promise<T>): Promise<T> {
  const context = await openContext(command.optsWithGlobals<GlobalOptions>());
  try {
    return await body(context);
  } finally {
    await context.close();
  }
}
