import { z } from 'zod';
import { durationOption, validate } from '../validate.js';

const positive = (what: string) => durationOption(what).refine((ms) => ms > 0, `${what} must be longer than 0`);

export const retrySchema = z.object({
  /** Delay before the first retry. Default 1s. */
  base: positive('retry.base').default(1_000),
  /** Each further retry waits this many times longer. Default 2. */
  factor: z.number().min(1).max(100).default(2),
  /** Upper bound of the delay. Default 5m. */
  max: positive('retry.max').default(300_000),
  /** Fraction of the delay drawn at random (0: none, 1: anything from 0 to the delay). Default 0.5. */
  jitter: z.number().min(0).max(1).default(0.5),
}).strict().refine((r) => r.max >= r.base, { message: 'retry.max must not be shorter than retry.base', path: ['max'] });

export type RetryPolicy = z.output<typeof retrySchema>;

export const workerOptionsSchema = z.object({
  /** Handlers running at once (1–1000). Default 1. */
  concurrency: z.number().int().min(1).max(1000).default(1),
  /** Events per fetch (1–10000). Default: max(10, concurrency). */
  batchSize: z.number().int().min(1).max(10000).optional(),
  /** Lease of fetched events; renewed while they are in hand. Default 30s. */
  lease: positive('lease').default(30_000),
  /** Renew leases of events in hand (every lease / 3). Default true. */
  renewLease: z.boolean().default(true),
  /** Backoff of failed events: base · factor^(attempt-1), at most max, minus up to jitter of it. */
  retry: retrySchema.default({ base: 1_000, factor: 2, max: 300_000, jitter: 0.5 }),
  /** Sets the session's max attempts when the worker starts (a session setting: it applies to every consumer). */
  maxAttempts: z.number().int().min(1).optional(),
  /** Fetch at least this often without notifications. Default 2s. */
  pollInterval: positive('pollInterval').default(2_000),
  /** Longest wait between reconnect attempts. Default 5s. */
  maxReconnectDelay: positive('maxReconnectDelay').default(5_000),
  /** How long stop() waits for running handlers. Default 30s. */
  shutdownTimeout: durationOption('shutdownTimeout').default(30_000),
  /** Install SIGINT/SIGTERM handlers that call stop() (removed on stop). Default false. */
  handleSignals: z.boolean().default(false),
}).strict();

export type WorkerOptions = z.input<typeof workerOptionsSchema>;
export type WorkerSettings = z.output<typeof workerOptionsSchema> & { batchSize: number };

export function workerSettings(options: WorkerOptions | undefined): WorkerSettings {
  const settings = validate(workerOptionsSchema, options ?? {}, 'worker options');
  return { ...settings, batchSize: settings.batchSize ?? Math.max(10, settings.concurrency) };
}
