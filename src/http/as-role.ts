import type pg from 'pg';
import type { Identity } from './auth.js';
import { httpError } from './http-error.js';

/**
 * Runs body in a transaction as the identity's role, as PostgREST does:
 * set_config('role', …, true) is SET LOCAL ROLE with the name bound as a
 * value (no identifier to quote), and the claims go into
 * request.jwt.claims for the transaction. First it checks that the role
 * exists and that the login role may become it, so that the caller gets a
 * clear 403 rather than PostgreSQL's error.
 */
export async function asRole<T>(pool: pg.Pool, identity: Identity, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ found: boolean; member: boolean }>(
      `SELECT r.found, r.member,
              CASE WHEN r.member THEN pg_catalog.set_config('role', $1, true) END AS role,
              pg_catalog.set_config('request.jwt.claims', $2, true) AS claims
       FROM (SELECT count(*) > 0 AS found, coalesce(bool_or(pg_catalog.pg_has_role(session_user, oid, 'MEMBER')), false) AS member
             FROM pg_catalog.pg_roles WHERE rolname = $1) r`,
      [identity.role, identity.claims]);
    const check = rows[0]!;
    if (!check.found) throw httpError(403, `role "${identity.role}" does not exist`);
    if (!check.member) throw httpError(403, `the server's login role may not act as role "${identity.role}" (grant it to the login role)`);
    const result = await body(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw error;
  } finally {
    client.release(broken);
  }
}
