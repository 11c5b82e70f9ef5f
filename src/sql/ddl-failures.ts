import { query, type Queryable } from './query.js';

/** A schema change whose events (or capture renewal) could not be made: the DDL committed without them. */
export interface DdlFailure {
  commandTag: string | null;
  sqlstate: string;
  message: string;
  failedAt: Date;
}

/** event.ddl_failures(): the newest first; rows only for aqevent_admin (and superusers). */
export async function ddlFailures(db: Queryable, max = 10): Promise<DdlFailure[]> {
  return query<DdlFailure>(db, 'DDL failures',
    `SELECT command_tag AS "commandTag", sqlstate, message, failed_at AS "failedAt" FROM event.ddl_failures($1)`, [max]);
}
