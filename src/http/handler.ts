import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Aqevent } from '../client.js';
import type { NotifyMode } from '../consumer/notify-channel.js';
import { poolListener, WakeHub } from '../consumer/wake-hub.js';
import type { AqeventError } from '../errors.js';
import { durationOption, validate } from '../validate.js';
import { authenticate } from './auth.js';
import type { RequestContext, Route } from './context.js';
import { corsHeaders, preflight } from './cors.js';
import { EventStreams } from './event-streams.js';
import { httpError, sendError } from './http-error.js';
import { HttpMetrics } from './metrics.js';
import { ackRoute, streamEvents } from './routes/events.js';
import { tableRows } from './routes/rows.js';
import { clientScript, health, metrics } from './routes/service.js';
import { createSession, deleteSession } from './routes/sessions.js';
import { createSubscription, deleteSubscription } from './routes/subscriptions.js';

const optionsSchema = z.object({
  /** HS256 secret for tokens. Default: AQEVENT_JWT_SECRET. */
  jwtSecret: z.string().min(1).optional(),
  /** Role of requests without a token. Default: AQEVENT_ANON_ROLE; none: 401. */
  anonRole: z.string().min(1).optional(),
  /** Origins allowed by CORS ('*': any). Default none. */
  corsOrigins: z.array(z.string()).default([]),
  /** Heartbeat comment interval on event streams (at most 15 s). */
  heartbeat: durationOption('heartbeat').default(10_000).refine((ms) => ms > 0 && ms <= 15_000, 'heartbeat must be between 1ms and 15s'),
  /** Re-read streams this often without a notification. */
  poll: durationOption('poll').default(5_000).refine((ms) => ms >= 10, 'poll must be at least 10ms'),
  /** The SSE retry: a browser's reconnect delay. */
  retry: durationOption('retry').default(1_000),
  /** Where notifications arrive (consumer/notify-channel.ts). */
  notifyMode: z.enum(['session', 'shared']).optional(),
  batchSessions: z.number().int().min(1).max(10000).default(500),
  pageSize: z.number().int().min(1).max(10000).default(500),
  readConcurrency: z.number().int().min(1).default(4),
  /** How long a closed stream's send order is kept for its Last-Event-ID. */
  resumeMemory: durationOption('resumeMemory').default(600_000),
  env: z.record(z.string(), z.string().optional()).optional(),
  /** Called when reading event streams fails (aqevent serve prints it); transient failures are retried. */
  onReadError: z.custom<(error: AqeventError, sessions: number) => void>((value) => typeof value === 'function',
    'onReadError must be a function').optional(),
}).strict();
export type HandlerOptions = z.input<typeof optionsSchema>;

/** A Node request handler with close(): ends streams and the LISTEN connection (not the Aqevent client). */
export interface AqeventHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
  /** Open SSE streams. */
  readonly streams: number;
}

interface RouteEntry {
  method: string;
  pattern: RegExp;
  names: string[];
  run: Route;
}

function route(method: string, path: string, run: Route): RouteEntry {
  const names: string[] = [];
  const pattern = new RegExp(`^${path.replace(/:(\w+)/g, (_m, name: string) => (names.push(name), '([^/]+)'))}$`);
  return { method, pattern, names, run };
}

const ROUTES: RouteEntry[] = [
  route('POST', '/sessions', createSession),
  route('DELETE', '/sessions/:id', deleteSession),
  route('POST', '/sessions/:id/subscriptions', createSubscription),
  route('DELETE', '/subscriptions/:id', deleteSubscription),
  route('GET', '/sessions/:id/events', streamEvents),
  route('POST', '/sessions/:id/ack', ackRoute),
  route('GET', '/tables/:table/rows', tableRows),
  route('GET', '/healthz', health),
  route('GET', '/metrics', metrics),
  route('GET', '/client.js', clientScript),
];

/**
 * The HTTP API of docs/http.md as a request handler for node:http (or
 * Express, Fastify's raw server): `http.createServer(createHandler(aq))`.
 * Every request runs as its token's role (SET LOCAL ROLE in a transaction).
 */
export function createHandler(aq: Aqevent, options: HandlerOptions = {}): AqeventHandler {
  const settings = validate(optionsSchema, options, 'handler options');
  const env = settings.env ?? process.env;
  const auth = { jwtSecret: settings.jwtSecret ?? (env.AQEVENT_JWT_SECRET || undefined), anonRole: settings.anonRole ?? (env.AQEVENT_ANON_ROLE || undefined) };
  const pool = aq.pool;
  let streams: EventStreams | undefined;
  const wake = new WakeHub({
    ...poolListener(pool),
    mode: settings.notifyMode as NotifyMode | undefined,
    onWake: (sessionId) => (sessionId === null ? streams?.wakeAll() : streams?.wakeSession(sessionId)),
  });
  const metricsRegistry = new HttpMetrics(pool, { streams: () => streams?.size ?? 0, listening: () => wake.connected });
  streams = new EventStreams(pool, wake, {
    heartbeatMs: settings.heartbeat,
    pollMs: settings.poll,
    pageSize: settings.pageSize,
    batchSessions: settings.batchSessions,
    readConcurrency: settings.readConcurrency,
    resumeMemoryMs: settings.resumeMemory,
  }, {
    delivered: (count, stamps) => metricsRegistry.observeDelivery(count, stamps),
    readFailed: settings.onReadError,
  });
  const liveStreams = streams;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const cors = corsHeaders(req, settings.corsOrigins);
    if (req.method === 'OPTIONS') return preflight(req, res, settings.corsOrigins);
    for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
    const matches = ROUTES.filter((r) => r.pattern.test(url.pathname));
    const entry = matches.find((r) => r.method === req.method);
    if (!entry) {
      if (matches.length > 0) res.setHeader('allow', matches.map((r) => r.method).join(', '));
      throw matches.length > 0 ? httpError(405, `${req.method} is not allowed on ${url.pathname}`) : httpError(404, `no such endpoint: ${url.pathname}`);
    }
    const values = entry.pattern.exec(url.pathname)!.slice(1);
    const params = Object.fromEntries(entry.names.map((name, i) => [name, decodeURIComponent(values[i]!)]));
    let identity: ReturnType<RequestContext['identity']> | undefined;
    await entry.run({
      req, res, url, params, cors, pool, metrics: metricsRegistry, streams: liveStreams, retryMs: settings.retry,
      identity: () => (identity ??= authenticate(req, url, auth)),
      listening: () => wake.connected,
    });
  };

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => sendError(res, error));
  }) as AqeventHandler;
  handler.close = async () => {
    liveStreams.close();
    await wake.close();
  };
  Object.defineProperty(handler, 'streams', { get: () => liveStreams.size });
  return handler;
}
