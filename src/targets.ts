import type pg from 'pg';
import { z } from 'zod';
import { AqeventError, fromPgError } from './errors.js';
import { validate } from './validate.js';

/**
 * A table: a name as PostgreSQL reads it ("person", "public.person", "My Schema"."T";
 * unquoted names fold to lower case, one without a schema is found through the
 * connection's search_path), or { schema, table } taken literally.
 */
export type TableTarget = string | { schema: string; table: string };
/** A row's primary key value, or its values in key order for a composite key. */
export type RowKey = string | number | bigint | ReadonlyArray<string | number | bigint>;

const PART = String.raw`("(?:[^"]|"")+"|[^."]+)`;
const QUALIFIED = new RegExp(`^${PART}\\.${PART}$`);
const unquote = (part: string) => (part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part);

const tableSchema = z.union([
  z.string().regex(QUALIFIED, 'expected "schema.table"').transform((text) => {
    const [, schema, table] = QUALIFIED.exec(text)!;
    return { schema: unquote(schema!), table: unquote(table!) };
  }),
  z.object({ schema: z.string().min(1), table: z.string().min(1) }).strict(),
], { error: 'expected "schema.table" or { schema, table }' });

const keyPart = z.union([z.string(), z.number().finite(), z.bigint()]).transform(String);
const keySchema = z.union([keyPart.transform((k) => [k]), z.array(keyPart).min(1)]);

export function parseTable(target: TableTarget): { schema: string; table: string } {
  return validate(tableSchema, target, 'table');
}

/**
 * The schema and name of a table, resolved as `regclass` resolves it: a name
 * without a schema through the connection's search_path. { schema, table } is
 * taken as given. A name that names nothing is SQLSTATE 42P01 (a qualified one
 * is left to the SQL functions, which say whether the schema or the table is missing).
 */
export async function resolveTable(db: Pick<pg.Pool, 'query'>, target: TableTarget): Promise<{ schema: string; table: string }> {
  if (typeof target !== 'string') return parseTable(target);
  const name = validate(z.string().trim().min(1, 'expected a table name'), target, 'table');
  let found: { schema: string; table: string; search_path: string } | undefined;
  try {
    found = (await db.query<{ schema: string; table: string; search_path: string }>(
      `SELECT n.nspname AS schema, c.relname AS table, pg_catalog.current_setting('search_path') AS search_path
       FROM (SELECT pg_catalog.to_regclass($1) AS oid) r
       LEFT JOIN pg_catalog.pg_class c ON c.oid = r.oid
       LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`, [name])).rows[0];
  } catch (error) {
    throw fromPgError(error, `table ${name}`);
  }
  if (found?.schema && found.table) return { schema: found.schema, table: found.table };
  if (QUALIFIED.test(name)) return parseTable(name);
  throw new AqeventError('database', `table "${name}" does not exist (search_path: ${found?.search_path ?? ''})`, { sqlstate: '42P01' });
}

export function parseKey(key: RowKey): string[] {
  return validate(keySchema, key, 'row key');
}

export function parseColumn(column: string): string {
  return validate(z.string().min(1), column, 'column name');
}
