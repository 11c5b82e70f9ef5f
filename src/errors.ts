/** Stable error codes of the library. */
export type AqeventErrorCode =
  | 'database' // PostgreSQL refused a statement; sqlstate says why
  | 'connection' // could not reach or start a server, or the connection was lost
  | 'invalid_argument' // bad input caught before it reached the database
  | 'migration' // migrations could not be applied
  | 'closed' // the client (or the pool under it) was closed
  | 'internal'; // anything else: a bug or an unexpected failure; the cause says what

/** The one error class of the library. */
export class AqeventError extends Error {
  override readonly name = 'AqeventError';
  constructor(
    readonly code: AqeventErrorCode,
    message: string,
    readonly details: { sqlstate?: string; detail?: string; hint?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
  }

  get sqlstate(): string | undefined {
    return this.details.sqlstate;
  }
}

interface PgErrorLike {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
  hint?: unknown;
}

/**
 * Socket errors (Node's errno codes) after which the server may well be
 * reachable again: reset, refused (restarting), broken pipe, time-outs,
 * unreachable networks and DNS answering "try again".
 */
const CONNECTION_ERRNO = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN',
]);

/**
 * node-postgres reports a lost connection with these messages and no code
 * (pg/lib/client.js, pg-pool): the only place a message decides anything.
 */
const CONNECTION_MESSAGES = [
  /^Connection terminated( unexpectedly| due to connection timeout)?$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^timeout (expired|exceeded when trying to connect)$/,
  /^Query read timeout$/,
];

/** pg-pool after pool.end(): nothing will ever succeed on it again. */
const POOL_ENDED = /^Cannot use a pool after calling end on the pool$/;

/** Five characters of digits and capitals; no SQLSTATE class starts with E, every Node errno (EPIPE, ECONNRESET) does. */
const SQLSTATE = /^[0-9A-DF-Z][0-9A-Z]{4}$/;

/**
 * The SQLSTATEs after which waiting and trying again is right: class 08
 * (connection exception), 53 (insufficient resources: too many connections,
 * out of memory or disk), 57P01–57P03 (admin shutdown, crash shutdown,
 * cannot connect now), 40001 / 40P01 (serialization failure, deadlock) and
 * 55P03 (lock not available). Everything else (42xxx a bad statement, 22xxx
 * bad data, 42704 an unknown session, …) fails the same way every time.
 */
export function isTransientSqlstate(sqlstate: string): boolean {
  return sqlstate.startsWith('08') || sqlstate.startsWith('53')
    || ['57P01', '57P02', '57P03', '40001', '40P01', '55P03'].includes(sqlstate);
}

/** What kind of failure an error of the driver (or anything thrown) is. */
function classify(error: unknown, sqlstate: string | undefined, message: string): AqeventErrorCode {
  if (sqlstate) return 'database';
  const errno = (error as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && CONNECTION_ERRNO.has(errno)) return 'connection';
  if (error instanceof Error && !(error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError)) {
    if (CONNECTION_MESSAGES.some((pattern) => pattern.test(message))) return 'connection';
    if (POOL_ENDED.test(message)) return 'closed';
  }
  return 'internal';
}

/** Wraps a pg driver error (or anything thrown), carrying SQLSTATE, detail and hint through. */
export function fromPgError(error: unknown, context?: string): AqeventError {
  if (error instanceof AqeventError) return error;
  const pgError = (typeof error === 'object' && error !== null ? error : {}) as PgErrorLike;
  const sqlstate = typeof pgError.code === 'string' && SQLSTATE.test(pgError.code) ? pgError.code : undefined;
  const base = typeof pgError.message === 'string' ? pgError.message : String(error);
  const message = context ? `${context}: ${base}` : base;
  return new AqeventError(classify(error, sqlstate, base), message, {
    sqlstate,
    detail: typeof pgError.detail === 'string' ? pgError.detail : undefined,
    hint: typeof pgError.hint === 'string' ? pgError.hint : undefined,
    cause: error,
  });
}

/**
 * The one rule for retrying: true for a lost or refused connection and for
 * the transient SQLSTATEs (isTransientSqlstate); false for everything else,
 * programming errors (TypeError, a 42xxx statement error) above all.
 */
export function isTransient(error: unknown): boolean {
  const wrapped = fromPgError(error);
  if (wrapped.sqlstate !== undefined) return isTransientSqlstate(wrapped.sqlstate);
  return wrapped.code === 'connection';
}
