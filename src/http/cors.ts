import type { IncomingMessage, ServerResponse } from 'node:http';

/** Allowed origins: none by default; '*' allows any. */
export type CorsOrigins = readonly string[];

/** The CORS headers for this request's Origin, or none when it is not allowed. */
export function corsHeaders(req: IncomingMessage, origins: CorsOrigins): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || !(origins.includes('*') || origins.includes(origin))) return {};
  return {
    // Tokens travel in a header or the query, never in cookies: no credentials mode.
    'access-control-allow-origin': origin,
    'access-control-expose-headers': 'content-type',
    vary: 'Origin',
  };
}

/** Answers a preflight (OPTIONS) request: 204 with the allowed methods and headers, or 403. */
export function preflight(req: IncomingMessage, res: ServerResponse, origins: CorsOrigins): void {
  const headers = corsHeaders(req, origins);
  if (!headers['access-control-allow-origin']) {
    res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'origin not allowed', code: 'forbidden' }));
    return;
  }
  res.writeHead(204, {
    ...headers,
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers': 'authorization, content-type, last-event-id',
    'access-control-max-age': '600',
  }).end();
}
