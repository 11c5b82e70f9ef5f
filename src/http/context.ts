import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { Identity } from './auth.js';
import type { EventStreams } from './event-streams.js';
import type { HttpMetrics } from './metrics.js';

/** What a route handler gets. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path parameters by name (:id). */
  params: Record<string, string>;
  /** The caller, authenticated on first use. */
  identity(): Promise<Identity>;
  /** CORS headers to add to every response. */
  cors: Record<string, string>;
  pool: pg.Pool;
  streams: EventStreams;
  metrics: HttpMetrics;
  /** Whether the one LISTEN connection is up. */
  listening(): boolean;
  retryMs: number;
}

export type Route = (context: RequestContext) => Promise<void>;
