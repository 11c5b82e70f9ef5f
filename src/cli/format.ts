import { DateTime, Duration } from 'luxon';
import { type AqEvent, type RowId, storedText } from '../index.js';
import { catalogChange, isCatalogEvent } from './catalog-line.js';
import { formatKey, qualifiedName, quoteIdent } from './quote.js';

/** Colour only on a terminal, and never with NO_COLOR (https://no-color.org). */
export function colourEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export function paint(text: string, colour: Colour): string {
  return colourEnabled() ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
}

/** Prints a line now (stdout to a pipe or file is synchronous on POSIX: nothing waits in a buffer). */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * JSON that passes events on exactly as stored: a value read from the
 * database carries its original text (storedText), printed verbatim, so big
 * numbers keep every digit and stay numbers. Everything else: JSON.stringify.
 */
export function toJson(value: unknown): string {
  const stored = storedText(value);
  if (stored !== undefined) return stored;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === 'object' && value !== null) {
    const fields = Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A moment for people: local time, to the millisecond. */
export function formatTime(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return '-';
  const time = typeof value === 'string' ? DateTime.fromISO(value) : DateTime.fromJSDate(value);
  return time.isValid ? time.toLocal().toFormat('yyyy-LL-dd HH:mm:ss.SSS') : String(value);
}

/** A length of time for people: "3d 4h", "5m 2s", "850ms"; "-" for none. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts = Duration.fromMillis(ms).shiftTo('days', 'hours', 'minutes', 'seconds').toObject();
  const units: [number | undefined, string][] = [[parts.days, 'd'], [parts.hours, 'h'], [parts.minutes, 'm'], [Math.floor(parts.seconds ?? 0), 's']];
  const shown = units.filter(([n]) => n).map(([n, unit]) => `${n}${unit}`);
  return shown.slice(0, 2).join(' ') || '0s';
}

const OPERATION_COLOUR: Record<string, Colour> = { row_insert: 'green', row_delete: 'red', field_update: 'yellow', truncate: 'magenta' };

function keyText(rowId: RowId | null): string {
  if (!rowId) return '';
  return `[${formatKey(Array.isArray(rowId.pk_value) ? rowId.pk_value : [rowId.pk_value])}]`;
}

function values(payload: Record<string, unknown> | null): string {
  return payload ? Object.entries(payload).map(([k, v]) => `${quoteIdent(k)}=${JSON.stringify(v)}`).join(' ') : '';
}

/** One line per event: time, id, operation, table[key], what changed. */
export function eventLine(event: AqEvent & { attempts?: number; leasedUntil?: Date | null }): string {
  if (event.operation === 'overflow') {
    return [paint(formatTime(event.timestamp), 'dim'), paint(`#${event.id}`, 'bold'), paint('overflow'.padEnd(12), 'red'),
      `the session passed its pending cap (${event.max_pending ?? 'none'}); what followed was not kept: resync, then event.session_resume`].join(' ');
  }
  const table = qualifiedName(event.relation_id.schema_id.name, event.relation_id.name);
  if (event.operation === 'snapshot_end') {
    return [paint(formatTime(event.timestamp), 'dim'), paint(`#${event.id}`, 'bold'), paint('snapshot_end'.padEnd(12), 'dim'),
      table, `the snapshot's ${event.rows} row(s) are above; live changes follow`].join(' ');
  }
  let change: string;
  let target = `${table}${keyText(event.row_id)}`;
  if (isCatalogEvent(event)) {
    target = catalogChange(event);
    change = '';
  } else if (event.operation === 'field_update') {
    const column = event.field_id.column_id.name;
    change = `${quoteIdent(column)}: ${JSON.stringify(event.old_payload[column])} → ${JSON.stringify(event.payload[column])}`;
  } else {
    change = values(event.payload);
  }
  const notes = [
    // which subscription it came through: overlapping ones print otherwise identical lines
    `via ${event.subscription_type} ${event.subscription_id.slice(0, 8)}`,
    'snapshot' in event && event.snapshot ? 'snapshot' : '',
    'reason' in event && event.reason === 'filter'
      ? (event.operation === 'row_insert' ? 'entered the filter' : 'left the filter') : '',
    event.attempts !== undefined && event.attempts > 1 ? `attempt ${event.attempts}` : '',
    event.leasedUntil ? `leased until ${formatTime(event.leasedUntil)}` : '',
  ].filter(Boolean);
  return [
    paint(formatTime(event.timestamp), 'dim'),
    paint(`#${event.id}`, 'bold'),
    paint(event.operation.padEnd(12), OPERATION_COLOUR[event.operation] ?? 'cyan'),
    target,
    change,
    notes.length ? paint(`(${notes.join(', ')})`, 'dim') : '',
  ].filter(Boolean).join(' ');
}

/** A table for people: a header and aligned columns. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  out(paint(line(headers), 'bold'));
  for (const row of rows) out(line(row));
}

/** Key: value lines for one record. */
export function printFields(fields: [string, string][]): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, v] of fields) out(`${paint(`${k}:`.padEnd(width + 1), 'bold')} ${v}`);
}
