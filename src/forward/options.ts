import { z } from 'zod';
import type { AqeventError } from '../errors.js';
import { durationOption } from '../validate.js';
import { DEFAULT_SUBJECT } from './subject.js';

const positive = (what: string) => durationOption(what).refine((ms) => ms > 0, `${what} must be longer than 0`);

/** A line about the forwarder's connections: a lost one, a reconnect, a retry. */
export type ForwardLog = (line: string) => void;

export const forwardOptionsSchema = z.object({
  /** NATS server URL(s), e.g. 'nats://127.0.0.1:4222'. */
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** The JetStream stream; created when missing, with subjects '<first token of subject>.>' ('aqevent.>'). Default 'AQEVENT'. */
  stream: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'letters, digits, "_" and "-" only').default('AQEVENT'),
  /** Subject template; placeholders {schema} {table} {operation} {session} {partition}. */
  subject: z.string().min(1).default(DEFAULT_SUBJECT),
  /** Number of {partition} values (hash of the row key modulo this). Default 1. */
  partitions: z.number().int().min(1).max(100_000).default(1),
  /** Events fetched at a time (1–10000). Default 256: in strict order a batch is all that is in flight. */
  batch: z.number().int().min(1).max(10_000).default(256),
  /** Publishes awaiting their PubAck at once (1–10000). Default 256. */
  maxInFlight: z.number().int().min(1).max(10_000).default(256),
  /** Lease of fetched events, renewed while they are in hand. Default 30s. */
  lease: positive('lease').default(30_000),
  /** Wait for a PubAck this long before publishing again (same message id). Default 5s. */
  publishTimeout: positive('publishTimeout').default(5_000),
  /** JetStream's duplicate window of a stream created here. Default 2m (JetStream's own default). */
  duplicateWindow: positive('duplicateWindow').default(120_000),
  /** Look for events at least this often without a notification. Default 2s. */
  pollInterval: positive('pollInterval').default(2_000),
  /** Longest wait between reconnect attempts (NATS and PostgreSQL). Default 5s. */
  maxReconnectDelay: positive('maxReconnectDelay').default(5_000),
  /** How long a stop waits for publishes in flight before releasing their events. Default 10s. */
  shutdownTimeout: durationOption('shutdownTimeout').default(10_000),
  /** Ends the forwarder: in-flight publishes finish (or their events are released), the rest is released. */
  signal: z.instanceof(AbortSignal).optional(),
  /** Told after each event is acknowledged in PostgreSQL (after its PubAck). duplicate: JetStream had it already. */
  onForwarded: z.custom<(eventId: string, duplicate: boolean) => void>((v) => typeof v === 'function').optional(),
  /** One line per lost connection, reconnect and retried failure. */
  log: z.custom<ForwardLog>((v) => typeof v === 'function').optional(),
  /** Told about every PostgreSQL connection error the forwarder retries. */
  onError: z.custom<(error: AqeventError) => void>((v) => typeof v === 'function').optional(),
}).strict();

export type ForwardOptions = z.input<typeof forwardOptionsSchema>;
export type ForwardSettings = z.output<typeof forwardOptionsSchema>;
