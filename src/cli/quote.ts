/**
 * Identifiers for people, quoted as PostgreSQL would need them: a name that
 * is not lower-case letters, digits, _ and $ (or is a reserved word) comes in
 * double quotes, quotes doubled, so `public."we""ird; drop"` cannot be misread.
 */

// PostgreSQL's reserved key words (Appendix C, "reserved" and "reserved (can be function or type)").
const RESERVED = new Set(`all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate
collation column concurrently constraint create cross current_catalog current_date current_role current_schema current_time
current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze from full grant
group having ilike in initially inner intersect into is isnull join lateral leading left like limit localtime localtimestamp natural
not notnull null offset on only or order outer overlaps placing primary references returning right select session_user similar
some symmetric system_user table tablesample then to trailing true union unique user using variadic verbose when where window
with`.split(/\s+/));

/** One identifier, quoted when it needs to be. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * A primary key as the CLI reads it back (arguments.ts rowKey): values in key
 * order, comma-separated; a value with a comma, a quote, a bracket, blanks at
 * either end, or nothing at all is double-quoted, quotes doubled. A one-value key
 * "x,y" prints as "x,y", never as x,y (two values).
 */
export function formatKey(values: ReadonlyArray<unknown>): string {
  return values.map((value) => {
    const text = String(value);
    return text === '' || /[,"[\]]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }).join(',');
}

/** schema.table, each part quoted when it needs to be. */
export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}
