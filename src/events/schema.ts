import { z } from 'zod';
import { AqeventError } from '../errors.js';
import { parseLosslessJson } from './lossless-json.js';

/** A bigint from the database: kept as a decimal string (exact beyond 2^53). */
const bigintText = z.union([z.string().regex(/^-?\d+$/), z.number().int()]).transform(String);

const schemaId = z.object({ name: z.string() });
export const relationIdSchema = z.object({ schema_id: schemaId, name: z.string() });
export const columnIdSchema = z.object({ relation_id: relationIdSchema, name: z.string() });
/** Single-column keys are scalars, composite keys arrays (in key order). */
export const rowIdSchema = z.union([
  z.object({ pk_column_id: columnIdSchema, pk_value: z.string() }),
  z.object({ pk_column_id: z.array(columnIdSchema).min(1), pk_value: z.array(z.string()).min(1) }),
]);
export const fieldIdSchema = z.object({ row_id: rowIdSchema, column_id: columnIdSchema });

/** Column name → JSON value (numbers beyond JS precision arrive as strings). */
const payload = z.record(z.string(), z.unknown());

const common = {
  id: bigintText,
  subscription_type: z.enum(['table', 'row', 'field', 'column']),
  subscription_id: z.string().uuid(),
  relation_id: relationIdSchema,
  transaction_id: bigintText,
  timestamp: z.string(),
};

/** "filter": the row started (row_insert) or stopped (row_delete) passing the subscription's filter or policies. */
const reason = { reason: z.literal('filter').optional() };

/** snapshot: true for the rows of an initial snapshot (subscribe … snapshot). */
export const rowInsertSchema = z.object({
  ...common, ...reason, operation: z.literal('row_insert'), row_id: rowIdSchema.nullable(), payload,
  snapshot: z.literal(true).optional(),
});
/** payload is null when the row went in a TRUNCATE (row and field grains). */
export const rowDeleteSchema = z.object({ ...common, ...reason, operation: z.literal('row_delete'), row_id: rowIdSchema.nullable(), payload: payload.nullable() });
/** payload and old_payload hold the one changed column. */
export const fieldUpdateSchema = z.object({
  ...common,
  operation: z.literal('field_update'),
  row_id: rowIdSchema,
  field_id: fieldIdSchema,
  payload,
  old_payload: payload,
});
export const truncateSchema = z.object({ ...common, operation: z.literal('truncate'), row_id: z.null(), payload: z.null() });

/**
 * The marker a session gets when it passes its pending cap: the events after
 * it were not kept until event.session_resume. Resync from the tables.
 */
export const overflowSchema = z.object({
  id: bigintText,
  operation: z.literal('overflow'),
  subscription_id: z.string().uuid().nullable(),
  subscription_type: z.null().optional(),
  relation_id: z.null().optional(),
  row_id: z.null().optional(),
  payload: z.null().optional(),
  max_pending: bigintText.nullable(),
  events_dropped: bigintText.optional(),
  transaction_id: bigintText.nullable(),
  timestamp: z.string(),
});

/** After the last row of an initial snapshot: rows is how many there were. */
export const snapshotEndSchema = z.object({
  ...common,
  operation: z.literal('snapshot_end'),
  subscription_type: z.enum(['table', 'column']),
  row_id: z.null().optional(),
  payload: z.null().optional(),
  rows: bigintText,
});

/** Every event the SQL can emit, discriminated on `operation`. */
export const eventSchema = z.discriminatedUnion('operation',
  [rowInsertSchema, rowDeleteSchema, fieldUpdateSchema, truncateSchema, overflowSchema, snapshotEndSchema]);

export type RelationId = z.infer<typeof relationIdSchema>;
export type ColumnId = z.infer<typeof columnIdSchema>;
export type RowId = z.infer<typeof rowIdSchema>;
export type FieldId = z.infer<typeof fieldIdSchema>;
export type RowInsertEvent = z.infer<typeof rowInsertSchema>;
export type RowDeleteEvent = z.infer<typeof rowDeleteSchema>;
export type FieldUpdateEvent = z.infer<typeof fieldUpdateSchema>;
export type TruncateEvent = z.infer<typeof truncateSchema>;
export type OverflowEvent = z.infer<typeof overflowSchema>;
export type SnapshotEndEvent = z.infer<typeof snapshotEndSchema>;
export type AqEvent = z.infer<typeof eventSchema>;
export type EventOperation = AqEvent['operation'];

/** An event as a consumer receives it: the event plus its delivery count (1 on first delivery). */
export type DeliveredEvent = AqEvent & { readonly attempts: number };

/** A row of event.fetch_events as the library selects it (event as text). */
export interface FetchedRow {
  id: string;
  attempts: number;
  event: string;
}

/** Parses and validates one fetched row; a malformed event is an error, not a guess. */
export function toDeliveredEvent(row: FetchedRow): DeliveredEvent {
  const parsed = eventSchema.safeParse(parseLosslessJson(row.event));
  if (!parsed.success) {
    throw new AqeventError('database', `event ${row.id} does not have the expected shape: ${z.prettifyError(parsed.error)}`);
  }
  return withStoredText({ ...parsed.data, attempts: row.attempts }, row.event);
}

const STORED_TEXT = Symbol('aqevent.storedText');

/**
 * Remembers the JSON text an event (or dead letter event) was read from, as a
 * hidden property: JSON.stringify, spreading and deepEqual ignore it. The CLI
 * prints it to pass events on exactly as stored (every digit of big numbers,
 * numbers still numbers).
 */
export function withStoredText<T extends object>(value: T, text: string): T {
  Object.defineProperty(value, STORED_TEXT, { value: text, enumerable: false });
  return value;
}

/** The JSON text value was read from, when it came from the database. */
export function storedText(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? (value as { [STORED_TEXT]?: string })[STORED_TEXT] : undefined;
}
