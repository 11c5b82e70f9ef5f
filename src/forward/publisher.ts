import { setMaxListeners } from 'node:events';
import { type JetStreamClient, JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import { AuthorizationError, InvalidArgumentError, InvalidSubjectError, PermissionViolationError } from '@nats-io/transport-node';
import { Backoff, describe, pause } from './nats-connection.js';
import type { ForwardLog } from './options.js';

/** The JetStream status of "temporarily unavailable" (e.g. just after a restart): worth waiting for. */
const UNAVAILABLE = 503;

/** Refusals that publishing again cannot cure: the event is nacked with the error instead. */
export function isPermanent(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.status !== UNAVAILABLE;
  return error instanceof InvalidSubjectError || error instanceof InvalidArgumentError
    || error instanceof PermissionViolationError || error instanceof AuthorizationError;
}

/**
 * Publishes to JetStream until a PubAck comes back. A timeout, a lost
 * connection or "no responders" (the stream's server restarting) is waited
 * out with backoff and published again with the same message id, so a
 * publish that did land is dropped as a duplicate. The first failure after
 * a success, and the first success after failures, are one log line each.
 */
export class Publisher {
  private failing = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly timeoutMs: number,
    private readonly maxDelayMs: number,
    private readonly log: ForwardLog,
  ) {}

  /** The PubAck, or a rejection: a permanent refusal, or signal aborted before a PubAck came. */
  async publish(subject: string, data: Uint8Array, msgID: string, signal: AbortSignal): Promise<PubAck> {
    setMaxListeners(0, signal); // every publish waiting out an outage listens to it
    const backoff = new Backoff(this.maxDelayMs);
    for (;;) {
      try {
        const ack = await this.js.publish(subject, data, { msgID, timeout: this.timeoutMs });
        if (this.failing) {
          this.failing = false;
          this.log('nats: publishing again');
        }
        return ack;
      } catch (error) {
        if (isPermanent(error) || signal.aborted) throw error;
        if (!this.failing) {
          this.failing = true;
          this.log(`nats: publish failed (${describe(error)}); retrying with backoff`);
        }
        await pause(backoff.next(), signal);
        if (signal.aborted) throw error;
      }
    }
  }
}
