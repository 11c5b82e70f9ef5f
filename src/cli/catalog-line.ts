/**
 * Events of the meta views (schema changes) for people:
 * `meta.column public.person.age integer`, `meta.relation public.person table`.
 */
import type { AqEvent } from '../index.js';
import { qualifiedName, quoteIdent } from './quote.js';

const VIEWS = new Set(['schema', 'relation', 'column']);

type RowEvent = Exclude<AqEvent, { operation: 'overflow' }>;

/** Is this an event of meta.schema, meta.relation or meta.column? */
export function isCatalogEvent(event: RowEvent): boolean {
  return event.relation_id.schema_id.name === 'meta' && VIEWS.has(event.relation_id.name);
}

/** The object a meta id names, dotted and quoted: public.person.age. */
function objectName(id: Record<string, any> | null | undefined): string {
  if (!id || typeof id !== 'object') return '?';
  if (id.relation_id) return `${objectName(id.relation_id)}.${quoteIdent(String(id.name))}`;
  if (id.schema_id) return qualifiedName(String(id.schema_id.name), String(id.name));
  return quoteIdent(String(id.name));
}

function rowObject(event: RowEvent): string {
  const key = event.row_id?.pk_value;
  if (typeof key !== 'string') return '?';
  try {
    return objectName(JSON.parse(key));
  } catch {
    return key;
  }
}

/** What a row of a meta view says besides its name. */
function details(view: string, row: Record<string, unknown> | null): string {
  if (!row) return '';
  if (view === 'column') {
    return [row.type, row.nullable === false ? 'not null' : '', row.default != null ? `default ${row.default}` : '']
      .filter(Boolean).join(' ');
  }
  if (view === 'relation') return String(row.kind ?? '');
  return '';
}

/** `meta.column public.person.age integer`, or for a field_update `… type: "integer" → "bigint"`. */
export function catalogChange(event: RowEvent): string {
  const view = event.relation_id.name;
  const what = `meta.${view} ${rowObject(event)}`;
  if (event.operation === 'field_update') {
    const column = event.field_id.column_id.name;
    return `${what} ${column}: ${JSON.stringify(event.old_payload[column])} → ${JSON.stringify(event.payload[column])}`;
  }
  const extra = details(view, event.payload as Record<string, unknown> | null);
  return extra ? `${what} ${extra}` : what;
}
