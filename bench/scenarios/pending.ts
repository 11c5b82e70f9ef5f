/**
 * Issue #6 parts 5–7, which need the delivery library (event.fetch_events /
 * event.ack and the TypeScript session.events() iterator) being built on
 * another branch. Until it is merged these scenarios report their keys as
 * null with a "pending" note.
 *
 * TODO(#6 part 5, drain): 100,000 pending events, one consumer through the
 *   library, fetch + ack in batches of 100 and 1,000; the same through
 *   pg-boss 10 (insert, then fetch + complete). Keys: drain_events_per_s,
 *   pgboss_events_per_s, drain_vs_pgboss_ratio. Target: >= 2x pg-boss.
 * TODO(#6 part 6, latency): a writer commits 1,000 events/s for 10 s; a
 *   consumer on session.events(); commit-to-receipt latency. Keys:
 *   latency_p50_ms (target <= 2), latency_p99_ms (target <= 10).
 * TODO(#6 part 7, memory): a consumer draining 1,000,000 events keeps RSS
 *   < 200 MB (consumer_rss_mb); event.queue size on disk after a million
 *   events produced and acked (queue_bytes_after_1m).
 * Replace each entry below with a scenario file of its own (drain.ts,
 * latency.ts, memory.ts) and register it in bench/run.ts.
 */
import type { ResultKeys, ScenarioOutcome } from '../support/results.js';
import type { Scenario } from '../support/scenario.js';

const NOTE = 'pending: needs the delivery library (event.fetch_events/ack, session.events()) — issue #6 parts 5–7';

function pendingScenario(name: string, title: string, keys: (keyof ResultKeys)[], target: string): Scenario {
  return {
    name,
    title,
    async run(): Promise<ScenarioOutcome> {
      return {
        rows: [{ scenario: name, measure: keys.join(', '), baseline: '-', subject: '-', value: 'pending', target, met: null }],
        results: Object.fromEntries(keys.map((k) => [k, null])),
        pending: NOTE,
      };
    },
  };
}

export const pending: Scenario[] = [
  // pendingScenario('drain', 'Drain (part 5)', ['drain_events_per_s', 'pgboss_events_per_s', 'drain_vs_pgboss_ratio'], '>= 2x pg-boss'),
  // pendingScenario('latency', 'Latency (part 6)', ['latency_p50_ms', 'latency_p99_ms'], 'p50 <= 2 ms, p99 <= 10 ms'),
  pendingScenario('memory', 'Memory and bloat (part 7)', ['consumer_rss_mb', 'queue_bytes_after_1m'], 'RSS < 200 MB; report size'),
];
