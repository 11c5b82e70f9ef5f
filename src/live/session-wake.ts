import { WAKE_CHANNEL } from '../db/wake.js';
import type { ListenOptions } from './listener.js';

/**
 * What wakes the consumers of one session (events(), follow(), Worker, the
 * pg-boss bridge): the channels to LISTEN on and which payloads count. The
 * one place that knows the notification scheme: writers notify the channel
 * "aqevent" with the changed table's oid, once per table and transaction,
 * while a reader is registered (the Listener registers on that channel).
 * Every wake-up counts: the session's next read finds whether anything of
 * its own committed.
 */
export function sessionWake(_sessionId: string): Pick<ListenOptions, 'channels' | 'accept'> {
  return { channels: [WAKE_CHANNEL] };
}
