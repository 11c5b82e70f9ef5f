import PgBoss from 'pg-boss';
import type { CommandContext } from './context.js';

/** A started PgBoss on the command's database (its own small pool). */
export async function startBoss(context: CommandContext, schema: string): Promise<PgBoss> {
  const boss = new PgBoss({ ...context.connection.clientConfig, schema, max: 3 } as PgBoss.ConstructorOptions);
  boss.on('error', (error) => console.error(`aqevent: pg-boss: ${error.message}`));
  await boss.start();
  return boss;
}

/** An AbortSignal that SIGINT or SIGTERM aborts (graceful stop). */
export function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}
