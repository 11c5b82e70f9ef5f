import { query, type Queryable } from './query.js';

/** How many of these pg-boss job ids are in queue `name` (schema: a validated plain identifier, quoted). */
export async function countJobs(db: Queryable, schema: string, name: string, ids: string[]): Promise<number> {
  const table = `"${schema.replace(/"/g, '""')}".job`;
  const rows = await query<{ n: number }>(db, 'count pg-boss jobs', `SELECT count(*)::int AS n FROM ${table} WHERE name = $1 AND id = ANY ($2::uuid[])`, [name, ids]);
  return rows[0]!.n;
}
