import { type Command, InvalidArgumentError } from 'commander';
import { Aqevent, createPool, resolveConnection, serve } from '../../index.js';
import { positiveInt } from '../arguments.js';
import type { GlobalOptions } from '../context.js';
import { out } from '../format.js';

export function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('port: expected 0 to 65535');
  return n;
}

interface ServeFlags {
  port: number;
  host: string;
  corsOrigin?: string[];
  poolSize?: number;
  migrate?: boolean;
}

/** Runs until SIGINT or SIGTERM, then closes streams and connections. */
export async function untilSignal(close: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await close();
}

/** aqevent serve: the HTTP API and SSE streams (docs/http.md). */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API: sessions, subscriptions, event streams (SSE), /metrics (docs/http.md)')
    .option('--port <port>', 'TCP port (0: any free one)', port, 8787)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--cors-origin <origin...>', "origins allowed by CORS ('*': any); default none")
    .option('--pool-size <n>', 'database connections (one of them LISTENs)', positiveInt)
    .option('--migrate', 'apply pending migrations first')
    .addHelpText('after', `
Environment:
  AQEVENT_JWT_SECRET     HS256 secret of the tokens (claim "role"); without it tokens are refused
  AQEVENT_ANON_ROLE      role for requests without a token; without it they get 401`)
    .action(async (flags: ServeFlags, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const connection = await resolveConnection({ connectionString: globals.databaseUrl });
      const pool = createPool(connection, flags.poolSize ?? 10);
      const aq = await Aqevent.connect({ pool, migrate: flags.migrate ?? false });
      const running = await serve(aq, {
        port: flags.port, host: flags.host, corsOrigins: flags.corsOrigin ?? [],
        onReadError: (error, sessions) => process.stderr.write(`aqevent serve: reading ${sessions} event stream(s) failed: ` +
          `${error.message}${error.sqlstate ? ` [${error.sqlstate}]` : ''}\n`),
      });
      out(globals.json ? JSON.stringify({ url: running.url, database: connection.description }) : `aqevent serve: listening on ${running.url} (database: ${connection.description})`);
      await untilSignal(async () => {
        await running.close();
        await aq.close();
        await pool.end();
      });
    });
}
