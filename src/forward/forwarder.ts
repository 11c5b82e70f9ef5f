import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { storedText } from '../events/schema.js';
import { Session } from '../session.js';
import { validate } from '../validate.js';
import { releaseEvents } from '../sql/leases.js';
import { persist } from '../worker/settle.js';
import { Worker } from '../worker/worker.js';
import { forwarderName } from './forwarders.js';
import { connectNats, describe } from './nats-connection.js';
import { type ForwardOptions, forwardOptionsSchema, type ForwardSettings } from './options.js';
import { rowPartition } from './partition.js';
import { Publisher } from './publisher.js';
import { assertStreamTakes, ensureStream } from './stream.js';
import { SubjectTemplate } from './subject.js';

export interface ForwardResult {
  /** Events acknowledged after their PubAck. */
  forwarded: number;
  /** Of those, how many JetStream already held (a replay after a crash or a timed-out publish). */
  duplicates: number;
  /** Events given back on stop (unpublished, or without a PubAck in time). */
  released: number;
}

/** Everything that makes one message per event the same message on every attempt. */
export function natsMessageId(sessionId: string, eventId: string): string {
  return `${sessionId}:${eventId}`;
}

const encoder = new TextEncoder();
const ATTACH_EVERY_MS = 60_000;

/** The session pool's settings, 4 connections, application_name set (in a connection string it would win over the option). */
function namedPoolOptions(options: pg.PoolConfig, name: string): pg.PoolConfig {
  const named: pg.PoolConfig = { ...options, application_name: name, max: 4 };
  if (typeof named.connectionString === 'string') {
    try {
      const url = new URL(named.connectionString);
      url.searchParams.set('application_name', name);
      named.connectionString = url.toString();
    } catch {
      // not a URL (a key=value string): the option applies
    }
  }
  return named;
}

/**
 * Forwards a session's events into a JetStream stream until `signal`
 * aborts. Each event is published as its JSON (exactly as stored, as
 * `aqevent drain --json` prints it) with the header
 * `Nats-Msg-Id: <session id>:<event id>`, and acknowledged in PostgreSQL
 * only after JetStream's PubAck: a crash before the ack replays the
 * publish, and JetStream's duplicate window drops the replay. Events of
 * one row are never in flight together (the Worker's row lanes), so the
 * stream holds each row's events in id order. See docs/nats.md.
 */
export async function forwardToNats(session: Session, options: ForwardOptions): Promise<ForwardResult> {
  const settings = validate(forwardOptionsSchema, options, 'forward options');
  const template = new SubjectTemplate(settings.subject);
  const subjects = template.streamSubjects; // checked before anything connects
  const log = settings.log ?? (() => {});
  const signal = settings.signal ?? new AbortController().signal;
  const result: ForwardResult = { forwarded: 0, duplicates: 0, released: 0 };

  const nc = await connectNats({
    servers: settings.servers, maxReconnectDelay: settings.maxReconnectDelay, log, signal,
    name: forwarderName(session.id, settings.stream),
  });
  if (!nc) return result;
  try {
    const facts = await ensureStream(await jetstreamManager(nc), settings.stream, subjects, settings.duplicateWindow);
    assertStreamTakes(settings.stream, facts, template.render({ schema: 'x', table: 'x', operation: 'x', session: 'x', partition: '0' }));
    log(`nats: ${facts.created ? 'created' : 'using'} stream ${settings.stream} (duplicate window ${facts.duplicateWindowMs / 1000}s)`);
    if (signal.aborted) return result;
    // Its own small pool, on the session's connection settings, named so that `aqevent stats` finds it.
    const pool = new pg.Pool(namedPoolOptions(session.pool.options, forwarderName(session.id, settings.stream)));
    pool.on('error', () => {});
    try {
      await run(new Session(pool, session.id), nc, template, settings, result, log, signal);
    } finally {
      await pool.end();
    }
    return result;
  } finally {
    await nc.drain().catch(() => nc.close());
  }
}

async function run(
  session: Session, nc: NatsConnection, template: SubjectTemplate, settings: ForwardSettings,
  result: ForwardResult, log: (line: string) => void, signal: AbortSignal,
): Promise<void> {
  const publisher = new Publisher(jetstream(nc), settings.publishTimeout, settings.maxReconnectDelay, log);
  /** Events whose publish started and that the worker has not settled: after stop, these are released. */
  const unsettled = new Set<string>();
  const duplicate = new Set<string>();
  const worker = new Worker(session, async (event, context) => {
    unsettled.add(event.id);
    const subject = template.render(SubjectTemplate.values(event, session.id, template.usesPartition ? rowPartition(event, settings.partitions) : '0'));
    const body = storedText(event) ?? JSON.stringify({ ...event, attempts: undefined });
    const ack = await publisher.publish(subject, encoder.encode(body), natsMessageId(session.id, event.id), context.signal);
    if (ack.duplicate) duplicate.add(event.id);
  }, {
    concurrency: settings.maxInFlight,
    batchSize: settings.batch,
    lease: settings.lease,
    pollInterval: settings.pollInterval,
    maxReconnectDelay: settings.maxReconnectDelay,
    shutdownTimeout: settings.shutdownTimeout,
  });
  worker.on('processed', (event) => {
    unsettled.delete(event.id);
    const wasDuplicate = duplicate.delete(event.id);
    result.forwarded++;
    if (wasDuplicate) result.duplicates++;
    settings.onForwarded?.(event.id, wasDuplicate);
  });
  worker.on('failed', (event, error, outcome) => {
    unsettled.delete(event.id);
    duplicate.delete(event.id);
    log(`forward: JetStream refused event ${event.id} (${describe(error)}); `
      + (outcome.deadLetter ? 'it is now a dead letter' : `retrying in ${outcome.delayMs} ms`));
  });
  worker.on('released', (ids) => (result.released += ids.length));
  worker.on('leaseLost', (ids) => log(`forward: lost the lease of ${ids.length} events (cut off from PostgreSQL for longer than a lease)`));
  worker.on('connectionError', (error) => {
    settings.onError?.(error);
    log(`postgres: ${error.message} (retrying)`);
  });

  await worker.start();
  // As the bridge does: a session with a ttl does not expire while a forwarder serves it.
  const attach = setInterval(() => void session.pool.query('SELECT event.session_attach($1)', [session.id]).catch(() => {}), ATTACH_EVERY_MS);
  const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  if (signal.aborted) await worker.stop();
  try {
    await Promise.race([stopped, worker.wait()]);
  } finally {
    clearInterval(attach);
    await worker.stop().catch(() => {});
    // Publishes still without a PubAck at the deadline: give their events back now rather than after the lease.
    // If one did land, its replay is a duplicate JetStream drops.
    const abandoned = [...unsettled];
    if (abandoned.length > 0 && await persist(() => releaseEvents(session.pool, session.id, abandoned), settings.lease, settings.maxReconnectDelay, () => {})) {
      result.released += abandoned.length;
    }
  }
  await worker.wait();
}
