import type { IncomingMessage } from 'node:http';
import { httpError } from './http-error.js';

const LIMIT = 1 << 20;

/** The request body as JSON ({} when empty). 400 for bad JSON, 413 past 1 MiB. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LIMIT) throw httpError(413, 'the request body is larger than 1 MiB');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw httpError(400, `the request body is not JSON: ${(error as Error).message}`);
  }
}
