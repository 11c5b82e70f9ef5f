import type pg from 'pg';
import { fromPgError } from '../errors.js';

/**
 * A forwarder names its PostgreSQL connections (application_name) and its
 * NATS connection after its session and stream, so `aqevent stats` can say
 * which sessions are forwarded and how far behind each is: a forwarder's
 * lag is its session's backlog and in-flight events (docs/nats.md).
 */
const PREFIX = 'aqevent-fwd:';

export function forwarderName(sessionId: string, stream: string): string {
  // PostgreSQL keeps 63 bytes: the session id without dashes leaves 18 for the stream's name (cut beyond).
  return `${PREFIX}${sessionId.replace(/-/g, '')}:${stream}`.slice(0, 63);
}

/** A live forwarder, as pg_stat_activity shows it. */
export interface ForwarderInfo {
  sessionId: string;
  /** The stream's name, its first 18 characters. */
  stream: string;
  /** Its PostgreSQL connections now. */
  connections: number;
}

/** Forwarders connected to this database (those of other roles only where pg_stat_activity shows them). */
export async function liveForwarders(pool: pg.Pool): Promise<ForwarderInfo[]> {
  try {
    const { rows } = await pool.query<{ application_name: string; n: number }>(
      `SELECT application_name, count(*)::int AS n FROM pg_catalog.pg_stat_activity
       WHERE datname = current_database() AND starts_with(application_name, $1) GROUP BY application_name ORDER BY 1`, [PREFIX]);
    return rows.map((row) => {
      const [hex = '', stream = ''] = row.application_name.slice(PREFIX.length).split(':');
      const sessionId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      return { sessionId, stream, connections: row.n };
    });
  } catch (error) {
    throw fromPgError(error, 'forwarders');
  }
}
