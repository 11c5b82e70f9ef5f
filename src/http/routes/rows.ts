import { parseTable } from '../../targets.js';
import { asRole } from '../as-role.js';
import type { Route } from '../context.js';
import { httpError, sendJson } from '../http-error.js';

const MAX_ROWS = 10000;

/**
 * GET /tables/:table/rows → { table, key, columns, rows }: the current rows
 * of a table as the caller's role sees them (table and column privileges,
 * row-level security), only the columns it may read. The starting point of
 * a live page until subscriptions take a snapshot.
 */
export const tableRows: Route = async ({ res, url, pool, identity, params }) => {
  const { schema, table } = parseTable(decodeURIComponent(params.table ?? ''));
  const limitText = url.searchParams.get('limit') ?? String(MAX_ROWS);
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_ROWS) throw httpError(400, `limit must be between 1 and ${MAX_ROWS}, not "${limitText}"`);
  const result = await asRole(pool, await identity(), async (client) => {
    const { rows: [found] } = await client.query<{ oid: number; columns: string[] | null; key: string[] | null }>(
      `SELECT c.oid,
              (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT')) AS columns,
              (SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_catalog.pg_index i
                CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                WHERE i.indrelid = c.oid AND i.indisprimary) AS key
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2`, [schema, table]);
    if (!found) throw httpError(404, `table "${schema}.${table}" does not exist`);
    if (!found.columns) throw httpError(403, `permission denied for table "${schema}.${table}": no column may be read`);
    const columns = found.columns.map((name) => `t.${quoteIdent(name)}`).join(', ');
    const order = (found.key ?? []).map((name) => `t.${quoteIdent(name)}`).join(', ');
    const { rows } = await client.query<{ row: string }>(
      `SELECT to_jsonb(r)::text AS row FROM (SELECT ${columns} FROM ${quoteIdent(schema)}.${quoteIdent(table)} t
       ${order ? `ORDER BY ${order}` : ''} LIMIT $1) r`, [limit]);
    return { table: `${schema}.${table}`, key: found.key ?? [], columns: found.columns, rows: rows.map((r) => r.row) };
  });
  // Rows as PostgreSQL wrote them (bigints keep every digit), spliced into the JSON.
  const head = JSON.stringify({ table: result.table, key: result.key, columns: result.columns });
  const text = `${head.slice(0, -1)},"rows":[${result.rows.join(',')}]}`;
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
};

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
