import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Aqevent } from '../client.js';
import { type AqeventHandler, createHandler, type HandlerOptions } from './handler.js';

export interface ServeOptions extends HandlerOptions {
  port?: number;
  host?: string;
  /** Answers requests the API does not (the demo page); return false to pass them on. */
  extra?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

export interface RunningServer {
  server: http.Server;
  handler: AqeventHandler;
  url: string;
  close(): Promise<void>;
}

/** Starts an HTTP server with createHandler on host:port (default 127.0.0.1:8787). */
export async function serve(aq: Aqevent, options: ServeOptions = {}): Promise<RunningServer> {
  const { port = 8787, host = '127.0.0.1', extra, ...handlerOptions } = options;
  const handler = createHandler(aq, handlerOptions);
  const server = http.createServer((req, res) => {
    if (extra?.(req, res)) return;
    handler(req, res);
  });
  // Event streams are long: no request timeout; keep-alive for the API.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    handler,
    url: `http://${shownHost}:${address.port}`,
    async close() {
      await handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
