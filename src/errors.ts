/** Stable error codes of the library. */
export type AqeventErrorCode =
  | 'database' // PostgreSQL refused a statement; sqlstate says why
  | 'connection' // could not reach or start a server
  | 'invalid_argument' // bad input caught before it reached the database
  | 'migration' // migrations could not be applied
  | 'closed'; // the client was closed

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

/** Wraps a pg driver error, carrying SQLSTATE, detail and hint through. */
export function fromPgError(error: unknown, context?: string): AqeventError {
  if (error instanceof AqeventError) return error;
  const pgError = (typeof error === 'object' && error !== null ? error : {}) as PgErrorLike;
  const sqlstate = typeof pgError.code === 'string' && /^[0-9A-Z]{5}$/.test(pgError.code) ? pgError.code : undefined;
  const base = typeof pgError.message === 'string' ? pgError.message : String(error);
  const message = context ? `${context}: ${base}` : base;
  return new AqeventError(sqlstate ? 'database' : 'connection', message, {
    sqlstate,
    detail: typeof pgError.detail === 'string' ? pgError.detail : undefined,
    hint: typeof pgError.hint === 'string' ? pgError.hint : undefined,
    cause: error,
  });
}
