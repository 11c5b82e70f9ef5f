import pg from 'pg';
import { AqeventError, resolveConnection } from '../index.js';
import { quoteIdent } from './quote.js';

/**
 * One-line errors with a way out. The line keeps PostgreSQL's SQLSTATE,
 * detail and hint; for the errors a new user meets first it adds what to do.
 * Decided on the SQLSTATE and, where the code alone cannot say which case it
 * is, on the catalog, never on message text.
 */

interface ErrorFields {
  sqlstate?: string;
  detail?: string;
  hint?: string;
}

function fieldsOf(error: unknown): ErrorFields {
  if (error instanceof AqeventError) return { sqlstate: error.sqlstate, detail: error.details.detail, hint: error.details.hint };
  const raw = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
  const code = text(raw.code);
  return { sqlstate: code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined, detail: text(raw.detail), hint: text(raw.hint) };
}

/** What the database says about the connecting role: enough to tell an unmigrated database from a missing grant. */
async function inspect(databaseUrl: string | undefined): Promise<{ role: string; migrated: boolean; member: boolean } | undefined> {
  const client = new pg.Client({ ...(await resolveConnection({ connectionString: databaseUrl })).clientConfig, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ role: string; migrated: boolean; member: boolean }>(`
      SELECT current_user AS role,
             to_regnamespace('event') IS NOT NULL AS migrated,
             EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = 'aqevent_user' AND pg_catalog.pg_has_role(current_user, r.oid, 'USAGE')) AS member`);
    return rows[0];
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** What to do about the error, when there is something the user can do; asks the database only for 3F000 and 42501. */
export async function adviceFor(error: unknown, databaseUrl: string | undefined): Promise<string | undefined> {
  const { sqlstate } = fieldsOf(error);
  if (sqlstate !== '3F000' && sqlstate !== '42501') return undefined; // invalid_schema_name, insufficient_privilege
  const state = await inspect(databaseUrl);
  if (!state) return undefined;
  if (sqlstate === '3F000' && !state.migrated) return 'run `aqevent migrate` to install aqevent in this database';
  if (sqlstate === '42501' && state.migrated && !state.member) {
    return `to use aqevent as this role, a superuser runs: grant aqevent_user to ${quoteIdent(state.role)}`;
  }
  return undefined;
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

/** The error as the CLI prints it: `aqevent: <message> [SQLSTATE]; detail: …; hint: …; <advice>`. */
export function errorLine(error: unknown, advice?: string): string {
  const { sqlstate, detail, hint } = fieldsOf(error);
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  const parts = [`aqevent: ${message}${sqlstate ? ` [${sqlstate}]` : ''}`];
  if (detail) parts.push(`detail: ${oneLine(detail)}`);
  if (hint) parts.push(`hint: ${oneLine(hint)}`);
  if (advice) parts.push(advice);
  return parts.join('; ');
}
