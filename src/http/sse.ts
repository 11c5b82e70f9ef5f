import type { ServerResponse } from 'node:http';

/** One Server-Sent Events message. Data lines are split on newlines, as the format requires. */
export function sseMessage(fields: { id?: string; event?: string; data: string }): string {
  let text = '';
  if (fields.id !== undefined) text += `id: ${fields.id}\n`;
  if (fields.event !== undefined) text += `event: ${fields.event}\n`;
  for (const line of fields.data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

export function sseComment(text: string): string {
  return `: ${text}\n\n`;
}

export function startSse(res: ServerResponse, headers: Record<string, string>, retryMs: number): void {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`retry: ${retryMs}\n${sseComment('connected')}`);
}
