import type pg from 'pg';
import { type AqeventError, fromPgError } from '../errors.js';
import { extendLease } from '../sql/leases.js';

/**
 * Renews the leases of the events a worker holds, every lease / 3, so a
 * handler may run longer than the lease without its event being delivered
 * to someone else. Two renewals can fail in a row (a lost connection) before
 * a lease ends. Ids the database no longer shows as leased are reported as
 * lost: their lease ended (e.g. the worker was cut off for longer than a
 * lease) and they may be, or have been, delivered again.
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sessionId: string,
    private readonly leaseMs: number,
    private readonly held: () => string[],
    private readonly lost: (ids: string[]) => void,
    private readonly report: (error: AqeventError) => void,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.renew(), Math.max(10, Math.floor(this.leaseMs / 3)));
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async renew(): Promise<void> {
    if (this.renewing) return;
    const ids = this.held();
    if (ids.length === 0) return;
    this.renewing = true;
    try {
      const extended = await extendLease(this.pool, this.sessionId, ids, this.leaseMs);
      const lost = ids.filter((id) => !extended.has(id));
      if (lost.length > 0) this.lost(lost);
    } catch (error) {
      this.report(fromPgError(error));
    } finally {
      this.renewing = false;
    }
  }
}
