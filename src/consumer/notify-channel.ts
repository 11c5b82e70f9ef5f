/**
 * Where writers' notifications arrive: the one place that names the channel.
 *
 * 'shared' (the current SQL, sql/schema/listener.sql): capture NOTIFYs the
 * one channel NOTIFY_CHANNEL with the changed table's oid as payload, while
 * a reader is registered; a listener LISTENs (and registers) once.
 * 'session' (the SQL before sql/schema): one channel per session id.
 */
export { WAKE_CHANNEL as NOTIFY_CHANNEL } from '../db/wake.js';
import { LISTEN_SQL, WAKE_CHANNEL as NOTIFY_CHANNEL } from '../db/wake.js';

/** How to start listening on a channel: the shared one also registers the reader, so writers notify. */
export function listenSql(channel: string): string {
  return channel === NOTIFY_CHANNEL ? LISTEN_SQL : `LISTEN ${quoteChannel(channel)}`;
}

export type NotifyMode = 'session' | 'shared';

/** The mode this version's SQL writes. Switch to 'shared' with the SQL that NOTIFYs NOTIFY_CHANNEL. */
export const DEFAULT_NOTIFY_MODE: NotifyMode = 'shared';

/** The channels to LISTEN on to follow these sessions. */
export function channelsFor(mode: NotifyMode, sessionIds: Iterable<string>): string[] {
  return mode === 'shared' ? [NOTIFY_CHANNEL] : [...sessionIds];
}

/** A channel name as a LISTEN / UNLISTEN identifier (always quoted). */
export function quoteChannel(channel: string): string {
  return `"${channel.replace(/"/g, '""')}"`;
}
