import pg from 'pg';
import { Aqevent } from '../../src/client.js';
import type { Session } from '../../src/session.js';
import type { TestDatabase } from './database.js';

/** A table public.<name> (id int primary key, v int), an Aqevent client and a session subscribed to the table. */
export async function subscribedTable(db: TestDatabase, name: string, settings?: Parameters<Aqevent['createSession']>[0]): Promise<{ aq: Aqevent; session: Session }> {
  await db.pool.query(`CREATE TABLE public.${name} (id int PRIMARY KEY, v int NOT NULL DEFAULT 0)`);
  const aq = await Aqevent.connect({ connectionString: db.url, poolSize: 4 });
  const session = await aq.createSession(settings);
  await session.subscribeTable(`public.${name}`);
  return { aq, session };
}

/** A pool whose connections carry application_name, so tests can terminate exactly them. */
export function urlWithApplicationName(url: string, applicationName: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', applicationName);
  return parsed.toString();
}

export async function terminate(admin: pg.Pool, applicationName: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()) t`, [applicationName]);
  return rows[0]!.n;
}
