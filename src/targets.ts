import { z } from 'zod';
import { validate } from './validate.js';

/**
 * A table: a name as PostgreSQL reads it ("person", "public.person", "My Schema"."T";
 * unquoted names fold to lower case, one without a schema is found through the
 * connection's search_path: src/sql/tables.ts), or { schema, table } taken literally.
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

/** Whether a name is "schema.table" (parts in double quotes where needed). */
export function isQualified(name: string): boolean {
  return QUALIFIED.test(name);
}

export function parseKey(key: RowKey): string[] {
  return validate(keySchema, key, 'row key');
}

export function parseColumn(column: string): string {
  return validate(z.string().min(1), column, 'column name');
}
