import type { ListenOptions } from './listener.js';

/**
 * What wakes the consumers of one session (events(), follow(), Worker, the
 * pg-boss bridge): the channels to LISTEN on and which payloads count. The
 * one place that knows the notification scheme: today every session has a
 * channel named after its id, and any notification on it counts.
 */
export function sessionWake(sessionId: string): Pick<ListenOptions, 'channels' | 'accept'> {
  return { channels: [sessionId] };
}
