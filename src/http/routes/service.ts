import { readFile } from 'node:fs/promises';
import type { Route } from '../context.js';
import { httpError, sendJson } from '../http-error.js';

/** GET /healthz → 200 { status: "ok" }, or 503 when the database or the LISTEN connection is down. */
export const health: Route = async ({ res, pool, listening, streams }) => {
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    throw httpError(503, `database unavailable: ${(error as Error).message}`);
  }
  const up = listening() || streams.size === 0;
  sendJson(res, up ? 200 : 503, up ? { status: 'ok', streams: streams.size } : { error: 'the LISTEN connection is down', code: 'service_unavailable' });
};

/** GET /metrics: Prometheus text format. */
export const metrics: Route = async ({ res, metrics: registry }) => {
  const { contentType, text } = await registry.render();
  res.writeHead(200, { 'content-type': contentType }).end(text);
};

// Two levels below the package root from both src/http/routes and dist/http/routes' parent: built by tsc.
const CLIENT_FILE = new URL('../../../dist/browser/client.js', import.meta.url);
let clientText: Promise<string> | undefined;

/** GET /client.js: the browser module (dist/browser/client.js, also the package's "aqevent/browser"). */
export const clientScript: Route = async ({ res }) => {
  clientText ??= readFile(CLIENT_FILE, 'utf8');
  let text: string;
  try {
    text = await clientText;
  } catch {
    clientText = undefined;
    throw httpError(404, 'client.js is not built: run npm run build');
  }
  res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }).end(text);
};
