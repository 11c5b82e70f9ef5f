import type { ServerResponse } from 'node:http';
import { AqeventError, fromPgError, isTransient } from '../errors.js';

/** An HTTP failure: status, and a code (a SQLSTATE, or the HTTP reason in snake case). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const REASONS: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
  409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 500: 'internal_error', 503: 'service_unavailable',
};

export function httpError(status: number, message: string): HttpError {
  return new HttpError(status, REASONS[status] ?? String(status), message);
}

/** SQLSTATE → status. Classes: 22 data exception, 23 constraint, 42 syntax or access, 08/57 connection. */
function statusOf(sqlstate: string): number {
  if (sqlstate === '42501') return 403;
  if (['42704', '42P01', '3F000', '42703', '42883'].includes(sqlstate)) return 404;
  if (sqlstate === '54000' || sqlstate === '55000' || sqlstate === '23505' || sqlstate === '40001' || sqlstate === '40P01') return 409;
  if (sqlstate.startsWith('22') || sqlstate.startsWith('23') || sqlstate.startsWith('42')) return 400;
  return 500;
}

/** Any failure as an HttpError: SQLSTATEs carried through as the code. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof AqeventError && error.code === 'invalid_argument') return new HttpError(400, 'bad_request', error.message);
  const failure = fromPgError(error);
  if (isTransient(failure) || failure.code === 'connection' || failure.code === 'closed') {
    return new HttpError(503, failure.sqlstate ?? 'service_unavailable', `database unavailable: ${failure.message}`);
  }
  if (failure.sqlstate) return new HttpError(statusOf(failure.sqlstate), failure.sqlstate, failure.message);
  return new HttpError(500, 'internal_error', failure.message);
}

/** Writes `{ "error", "code" }` with the error's status (unless the response has started). */
export function sendError(res: ServerResponse, error: unknown): void {
  const failure = toHttpError(error);
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, failure.status, { error: failure.message, code: failure.code });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
