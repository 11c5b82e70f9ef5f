/**
 * The fixture of the HTTP tests: a test database with a login role `srv`
 * (the server's) that may act as alice and bob (aqevent users who may read
 * public.person; bob may read only id and name of public.account) but not as carol, and
 * helpers to call the API and read event streams.
 */
import pg from 'pg';
import { Aqevent } from '../../src/client.js';
import { mintToken } from '../../src/http/auth.js';
import { serve, type RunningServer, type ServeOptions } from '../../src/http/serve.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createRoles, endRoles, type TestRole } from './roles.js';

export const SECRET = 'a test secret that is long enough';

export interface HttpFixture {
  db: TestDatabase;
  roles: Record<'srv' | 'alice' | 'bob' | 'carol', TestRole>;
  /** An Aqevent client on a pool of the login role srv. */
  aq: Aqevent;
  token(role: string, options?: { ttlMs?: number; secret?: string }): Promise<string>;
  start(options?: ServeOptions): Promise<RunningServer>;
  close(): Promise<void>;
}

export async function httpFixture(): Promise<HttpFixture> {
  const db = await createTestDatabase();
  const roles = await createRoles(db, ['srv', 'alice', 'bob', 'carol'] as const);
  const { srv, alice, bob, carol } = roles;
  await db.pool.query(`GRANT aqevent_user TO ${alice.sql}, ${bob.sql}, ${carol.sql};
    GRANT ${alice.sql}, ${bob.sql} TO ${srv.sql};
    CREATE TABLE public.person (id serial PRIMARY KEY, name text, score int, secret text);
    INSERT INTO public.person (name, score, secret) VALUES ('Joe Smith', 15, 's1'), ('Don Jones', 12, 's2'), ('Sandy Hill', 16, 's3'), ('Nancy Makowsky', 9, 's4');
    GRANT SELECT ON public.person TO ${alice.sql}, ${bob.sql};
    CREATE TABLE public.account (id int PRIMARY KEY, name text, secret text);
    INSERT INTO public.account VALUES (1, 'one', 'hidden');
    GRANT SELECT ON public.account TO ${alice.sql};
    GRANT SELECT (id, name) ON public.account TO ${bob.sql};
    CREATE TABLE public.nokey (v int);
    GRANT SELECT ON public.nokey TO ${alice.sql};
    SELECT event.enable_capture('public.person'), event.enable_capture('public.account'), event.enable_capture('public.nokey')`);
  // (readers with SELECT only cannot lock a table to install capture: its owner enables it)
  const pool = new pg.Pool({ connectionString: srv.url, max: 6 });
  pool.on('error', () => {});
  const aq = await Aqevent.connect({ pool });
  const servers: RunningServer[] = [];
  return {
    db,
    roles,
    aq,
    token: (role, options = {}) => mintToken({ secret: options.secret ?? SECRET, role, ttlMs: options.ttlMs ?? 600_000 }),
    async start(options = {}) {
      const running = await serve(aq, { port: 0, jwtSecret: SECRET, env: {}, ...options });
      servers.push(running);
      return running;
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
      await aq.close();
      await pool.end();
      await endRoles(roles);
      await db.drop();
    },
  };
}

export interface ApiResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** One API call: JSON in and out. */
export async function api(base: string, method: string, path: string, options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (metrics, client.js)
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** An open event stream, read as it arrives. */
export interface SseStream {
  status: number;
  headers: Headers;
  messages: SseMessage[];
  /** Resolves with the messages once `count` messages matching match have arrived. */
  waitFor(match: (m: SseMessage) => boolean, count?: number, timeoutMs?: number): Promise<SseMessage[]>;
  /** Event ids received so far. */
  ids(): string[];
  close(): void;
}

export async function openStream(url: string, options: { token?: string; lastEventId?: string; headers?: Record<string, string> } = {}): Promise<SseStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.lastEventId) headers['last-event-id'] = options.lastEventId;
  const response = await fetch(url, { headers, signal: controller.signal });
  const messages: SseMessage[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  if (response.ok && response.body) {
    (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      let current: SseMessage = {};
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let at: number;
          while ((at = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, at);
            buffer = buffer.slice(at + 1);
            if (line === '') {
              if (Object.keys(current).length > 0) messages.push(current);
              current = {};
              for (const wake of waiters) wake();
            } else if (line.startsWith(':')) {
              current.comment = line.slice(1).trim();
            } else {
              const colon = line.indexOf(':');
              const field = line.slice(0, colon) as 'id' | 'event' | 'data';
              const value = line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id' || field === 'event' || field === 'data') current[field] = value;
            }
          }
        }
      } catch {
        // aborted
      }
      ended = true;
      for (const wake of waiters) wake();
    })();
  }
  return {
    status: response.status,
    headers: response.headers,
    messages,
    ids: () => messages.filter((m) => m.id !== undefined).map((m) => m.id!),
    waitFor(match, count = 1, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.filter(match);
          if (found.length >= count) {
            done();
            resolve(found);
          } else if (ended) {
            done();
            reject(new Error(`the stream ended with ${found.length} of ${count} messages: ${JSON.stringify(messages)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${found().length} of ${count} messages within ${timeoutMs} ms: ${JSON.stringify(messages)}`));
        }, timeoutMs);
        const found = () => messages.filter(match);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () => controller.abort(),
  };
}

export const isEvent = (m: SseMessage) => m.id !== undefined;
