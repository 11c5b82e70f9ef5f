import type { RetryPolicy } from './options.js';

/**
 * Delay before delivering a failed event again, in milliseconds.
 * attempt is the delivery that failed (1 for the first). The nominal delay
 * base · factor^(attempt-1), capped at max, is shortened by a random part of
 * up to jitter · nominal, so that events failing together do not come back
 * together ("equal jitter" for jitter 0.5): the result lies in
 * [nominal · (1 - jitter), nominal].
 */
export function retryDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const nominal = nominalDelay(attempt, policy);
  return Math.round(nominal * (1 - policy.jitter * random()));
}

export function nominalDelay(attempt: number, policy: RetryPolicy): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(policy.max, policy.base * Math.pow(policy.factor, exponent));
}
