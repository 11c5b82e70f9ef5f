import { type AqeventError, fromPgError, isTransient } from '../errors.js';

/** The one backoff of the library: reconnects, retried acks and the worker's event retries. */

/** Reconnect backoff: the first retry after FIRST_RETRY_MS, doubling up to a cap (default MAX_RETRY_MS). */
export const FIRST_RETRY_MS = 50;
export const MAX_RETRY_MS = 5_000;

/** base · factor^(attempt-1), at most max, shortened by up to jitter of it (0: exact). */
export interface BackoffPolicy {
  base: number;
  factor: number;
  max: number;
  jitter: number;
}

export function nominalDelay(attempt: number, policy: Omit<BackoffPolicy, 'jitter'>): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(policy.max, policy.base * Math.pow(policy.factor, exponent));
}

/**
 * Delay before attempt + 1, in milliseconds. attempt is the one that failed
 * (1 for the first). The nominal delay is shortened by a random part of up
 * to jitter · nominal, so that events failing together do not come back
 * together ("equal jitter" for jitter 0.5): the result lies in
 * [nominal · (1 - jitter), nominal].
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const nominal = nominalDelay(attempt, policy);
  return Math.round(nominal * (1 - policy.jitter * random()));
}

export interface RetryOptions {
  /** Longest wait between attempts. Default MAX_RETRY_MS. */
  maxDelayMs?: number;
  /** Told about each transient failure, before the wait. */
  onError?: (error: AqeventError) => void;
  /** Asked after each transient failure: true stops trying (retryTransient then returns undefined). */
  giveUp?: (attempt: number, delayMs: number) => boolean;
  /** How to wait (default a timer); a consumer's wait also ends on close or abort. */
  sleep?: (ms: number) => Promise<void>;
}

const timer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs step until it succeeds. A transient failure (isTransient: a lost
 * connection, a restarting server, a deadlock …) is reported and waited out
 * with exponential backoff from FIRST_RETRY_MS, unless giveUp says stop.
 * Any other error is thrown at once, as an AqeventError: a programming
 * error is never retried.
 */
export async function retryTransient<T>(step: () => Promise<T>, options: RetryOptions = {}): Promise<T | undefined> {
  const policy = { base: FIRST_RETRY_MS, factor: 2, max: options.maxDelayMs ?? MAX_RETRY_MS };
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (caught) {
      const error = fromPgError(caught);
      if (!isTransient(error)) throw error;
      options.onError?.(error);
      const delay = nominalDelay(attempt, policy);
      if (options.giveUp?.(attempt, delay)) return undefined;
      await (options.sleep ?? timer)(delay);
    }
  }
}
