/**
 * Where writers' notifications arrive: the one place that names the channel.
 *
 * 'session' (today's SQL): capture NOTIFYs a channel named by the session id,
 * so a listener LISTENs once per session it follows.
 * 'shared' (the SQL being rewritten): capture NOTIFYs the one channel
 * NOTIFY_CHANNEL with the changed table's oid as payload, so a listener
 * LISTENs once, whatever it follows.
 */
export const NOTIFY_CHANNEL = 'aqevent';

export type NotifyMode = 'session' | 'shared';

/** The mode this version's SQL writes. Switch to 'shared' with the SQL that NOTIFYs NOTIFY_CHANNEL. */
export const DEFAULT_NOTIFY_MODE: NotifyMode = 'session';

/** The channels to LISTEN on to follow these sessions. */
export function channelsFor(mode: NotifyMode, sessionIds: Iterable<string>): string[] {
  return mode === 'shared' ? [NOTIFY_CHANNEL] : [...sessionIds];
}

/** A channel name as a LISTEN / UNLISTEN identifier (always quoted). */
export function quoteChannel(channel: string): string {
  return `"${channel.replace(/"/g, '""')}"`;
}
