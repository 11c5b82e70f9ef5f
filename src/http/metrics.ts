import type pg from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sessionMetrics } from '../sql/metrics.js';

/**
 * The Prometheus metrics of a handler, in a registry of its own (two handlers
 * in one process do not share counters). Per-session numbers come from
 * event.metrics() as the login role, on each scrape.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  readonly delivered: Counter;
  readonly latency: Histogram;

  constructor(pool: pg.Pool, sources: { streams: () => number; listening: () => boolean }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'aqevent_serve_' });
    this.delivered = new Counter({ name: 'aqevent_events_delivered_total', help: 'Events written to SSE streams', registers });
    this.latency = new Histogram({
      name: 'aqevent_delivery_latency_seconds',
      help: "From the event's timestamp (its transaction's start) to its write on an SSE stream",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({ name: 'aqevent_sse_streams', help: 'Open SSE streams', registers, collect() {
      this.set(sources.streams());
    } });
    new Gauge({ name: 'aqevent_listen_connected', help: '1 while the LISTEN connection is up', registers, collect() {
      this.set(sources.listening() ? 1 : 0);
    } });
    new Gauge({ name: 'aqevent_pool_connections', help: 'Database pool connections by state', labelNames: ['state'], registers, collect() {
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    } });
    const perSession = {
      backlog: new Gauge({ name: 'aqevent_session_backlog', help: 'Events deliverable now', labelNames: ['session'], registers }),
      inFlight: new Gauge({ name: 'aqevent_session_in_flight', help: 'Events leased or backing off', labelNames: ['session'], registers }),
      dead: new Gauge({ name: 'aqevent_session_dead_letters', help: 'Dead letters', labelNames: ['session'], registers }),
      oldest: new Gauge({ name: 'aqevent_session_oldest_pending_seconds', help: 'Age of the oldest pending event', labelNames: ['session'], registers }),
    };
    // Counters kept in the database (event.session), copied on each scrape.
    const perSessionTotals = {
      captured: new Counter({ name: 'aqevent_session_events_captured_total', help: "Events the session's reader made from captured changes", labelNames: ['session'], registers }),
      acknowledged: new Counter({ name: 'aqevent_session_events_acknowledged_total', help: 'Events acknowledged', labelNames: ['session'], registers }),
      dropped: new Counter({ name: 'aqevent_session_events_dropped_total', help: 'Events dropped past the pending cap since the last resume', labelNames: ['session'], registers }),
    };
    // Filled on each scrape by one event.metrics() call (the metrics' own collect would run it once each).
    this.refreshSessions = async () => {
      const rows = await sessionMetrics(pool);
      for (const metric of [...Object.values(perSession), ...Object.values(perSessionTotals)]) metric.reset();
      for (const row of rows) {
        const labels = { session: row.sessionId };
        perSession.backlog.set(labels, row.backlog);
        perSession.inFlight.set(labels, row.inFlight);
        perSession.dead.set(labels, row.deadLetters);
        perSession.oldest.set(labels, row.oldestPendingMs === null ? 0 : row.oldestPendingMs / 1000);
        perSessionTotals.captured.inc(labels, row.eventsCaptured);
        perSessionTotals.acknowledged.inc(labels, row.eventsAcknowledged);
        perSessionTotals.dropped.inc(labels, row.eventsDropped);
      }
    };
  }

  private readonly refreshSessions: () => Promise<void>;

  /** Counts delivered events and observes their latency. */
  observeDelivery(count: number, timestamps: readonly string[]): void {
    this.delivered.inc(count);
    const now = Date.now();
    for (const stamp of timestamps) {
      const at = Date.parse(stamp);
      if (Number.isFinite(at)) this.latency.observe(Math.max(0, now - at) / 1000);
    }
  }

  /** The exposition text. */
  async render(): Promise<{ contentType: string; text: string }> {
    await this.refreshSessions();
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
