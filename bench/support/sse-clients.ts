/**
 * Many SSE readers in one process (node:http, one socket each): for each
 * stream, the ids received and when (wall ms), and acks through the API.
 */
import http from 'node:http';
import { wallNow } from './consumer-process.js';

export interface SseClient {
  sessionId: string;
  /** Event ids received, in order. */
  ids: string[];
  /** Wall time of each receipt, parallel to ids. */
  at: number[];
  connected: boolean;
  request: http.ClientRequest;
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

export function openSseClient(base: string, token: string, sessionId: string, onEvent: () => void): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const client = { sessionId, ids: [], at: [], connected: false } as unknown as SseClient;
    const request = http.get(`${base}/sessions/${sessionId}/events`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream of ${sessionId}: HTTP ${res.statusCode}`));
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const now = wallNow();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!client.connected && message.includes(': connected')) {
            client.connected = true;
            resolve(client);
          }
          if (message.startsWith('id: ')) {
            client.ids.push(message.slice(4, message.indexOf('\n')));
            client.at.push(now);
            onEvent();
          }
        }
      });
      res.on('error', () => {});
    });
    request.on('error', reject);
    client.request = request;
  });
}

/** POSTs the ids received so far as acknowledged; returns how many were acknowledged. */
export async function ackAll(base: string, token: string, client: SseClient): Promise<void> {
  if (client.ids.length === 0) return;
  const response = await fetch(`${base}/sessions/${client.sessionId}/ack`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: client.ids }),
  });
  if (!response.ok) throw new Error(`ack: HTTP ${response.status} ${await response.text()}`);
}
