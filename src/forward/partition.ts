import type { DeliveredEvent } from '../events/schema.js';

/** The {partition} of events that concern no single row (a truncate, a table without a key). */
export const ALL_PARTITIONS = 'all';

/**
 * The partition of an event's row: FNV-1a (32 bit) of its row_id JSON,
 * modulo partitions. Stable across processes and versions, so every event
 * of a row goes to the same subject.
 */
export function rowPartition(event: DeliveredEvent, partitions: number): string {
  if (event.operation === 'truncate' || event.row_id === null) return ALL_PARTITIONS;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(JSON.stringify(event.row_id), 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return String(hash % partitions);
}
