import { createHash } from 'node:crypto';

/**
 * The pg-boss job id of an event: a name-based (version 5, RFC 9562) uuid of
 * the event id in the namespace of its session. The same event always gets
 * the same job id, so moving it twice (a retried transaction) can never make
 * two jobs: pg-boss inserts with ON CONFLICT DO NOTHING on (queue, id).
 */
export function eventJobId(sessionId: string, eventId: string): string {
  const namespace = Buffer.from(sessionId.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(eventId, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80; // RFC variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
