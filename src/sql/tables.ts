import { z } from 'zod';
import { AqeventError } from '../errors.js';
import { isQualified, parseTable, type TableTarget } from '../targets.js';
import { validate } from '../validate.js';
import { query, type Queryable } from './query.js';

/**
 * The schema and name of a table, resolved as `regclass` resolves it: a name
 * without a schema through the connection's search_path, unquoted parts folded
 * to lower case. { schema, table } is taken as given. A name that names nothing
 * is SQLSTATE 42P01; a qualified one the catalog does not know is left to the
 * SQL functions, which say whether the schema or the table is missing.
 */
export async function resolveTable(db: Queryable, target: TableTarget): Promise<{ schema: string; table: string }> {
  if (typeof target !== 'string') return parseTable(target);
  const name = validate(z.string().trim().min(1, 'expected a table name'), target, 'table');
  const [found] = await query<{ schema: string | null; table: string | null; search_path: string }>(db, `table ${name}`,
    `SELECT n.nspname AS schema, c.relname AS table, pg_catalog.current_setting('search_path') AS search_path
     FROM (SELECT pg_catalog.to_regclass($1) AS oid) r
     LEFT JOIN pg_catalog.pg_class c ON c.oid = r.oid
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`, [name]);
  if (found?.schema && found.table) return { schema: found.schema, table: found.table };
  if (isQualified(name)) return parseTable(name);
  throw new AqeventError('database', `table "${name}" does not exist (search_path: ${found?.search_path ?? ''})`, { sqlstate: '42P01' });
}
