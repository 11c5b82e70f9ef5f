/**
 * Writers NOTIFY one channel for everyone, with the changed table's oid as
 * payload, and only while a reader is registered (sql/schema/listener.sql).
 * A reader LISTENs and registers on the same connection, in one statement
 * list, so that writers see it before it first looks for events.
 */
export const WAKE_CHANNEL = 'aqevent';

/** Run on a reader's dedicated connection: LISTEN, then register as a listener. */
export const LISTEN_SQL = `LISTEN ${WAKE_CHANNEL}; SELECT event.listener_register()`;
