/** What a scenario reports: rows for the printed table and keys for results.json. */

/** The keys of bench/results.json (issue #13's table). null: not measured in this run. */
export interface ResultKeys {
  single_row_tps_ratio: number | null;
  single_row_vs_append_floor: number | null;
  single_row_noop_floor_ratio: number | null;
  single_row_append_floor_ratio: number | null;
  single_row_100_vs_1_sessions: number | null;
  single_row_listening_ratio: number | null;
  pgbench_1_session_ratio: number | null;
  pgbench_10_sessions_ratio: number | null;
  bulk_insert_ratio: number | null;
  bulk_update_ratio: number | null;
  bulk_delete_ratio: number | null;
  bulk_noop_floor_ratio: Record<string, number> | null;
  bulk_append_floor_ratio: Record<string, number> | null;
  row_subs_10k_ratio: number | null;
  drain_events_per_s: number | null;
  pgboss_events_per_s: number | null;
  drain_vs_pgboss_ratio: number | null;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  consumer_rss_mb: number | null;
  queue_bytes_after_1m: number | null;
  update_1m_time_ratio: number | null;
  update_1m_backend_peak_rss_ratio: number | null;
  stale_stats_ratio_of_ratios: number | null;
  /** '<order>_<processes>' → events/s handled by that many Worker processes on one session. */
  worker_processes_events_per_s: Record<string, number> | null;
  /** '<order>_<processes>' → CPU µs of the workers' PostgreSQL backends per event (null: server not on this machine). */
  worker_db_cpu_us_per_event: Record<string, number | null> | null;
  forward_events_per_s: number | null;
  raw_jetstream_events_per_s: number | null;
  forward_vs_raw_ratio: number | null;
  /** 100 ALTER TABLEs with aqevent's DDL triggers and no meta subscription, over the triggers disabled. */
  migration_floor_vs_bare_ratio: number | null;
  /** The same with a no-op event trigger instead, over none (the floor). */
  migration_noop_vs_bare_ratio: number | null;
  /** aqevent's DDL triggers with no meta subscription over the no-op floor. */
  migration_floor_vs_noop_ratio: number | null;
  /** The same with meta.column subscribed, over no meta subscription. */
  migration_meta_column_ratio: number | null;
}

export const EMPTY_RESULTS: ResultKeys = {
  single_row_tps_ratio: null,
  single_row_vs_append_floor: null,
  single_row_noop_floor_ratio: null,
  single_row_append_floor_ratio: null,
  single_row_100_vs_1_sessions: null,
  single_row_listening_ratio: null,
  pgbench_1_session_ratio: null,
  pgbench_10_sessions_ratio: null,
  bulk_insert_ratio: null,
  bulk_update_ratio: null,
  bulk_delete_ratio: null,
  bulk_noop_floor_ratio: null,
  bulk_append_floor_ratio: null,
  row_subs_10k_ratio: null,
  drain_events_per_s: null,
  pgboss_events_per_s: null,
  drain_vs_pgboss_ratio: null,
  latency_p50_ms: null,
  latency_p99_ms: null,
  consumer_rss_mb: null,
  queue_bytes_after_1m: null,
  update_1m_time_ratio: null,
  update_1m_backend_peak_rss_ratio: null,
  stale_stats_ratio_of_ratios: null,
  worker_processes_events_per_s: null,
  worker_db_cpu_us_per_event: null,
  forward_events_per_s: null,
  raw_jetstream_events_per_s: null,
  forward_vs_raw_ratio: null,
  migration_floor_vs_bare_ratio: null,
  migration_noop_vs_bare_ratio: null,
  migration_floor_vs_noop_ratio: null,
  migration_meta_column_ratio: null,
};

/** One line of the printed table. */
export interface ResultRow {
  scenario: string;
  measure: string;
  baseline: string;
  subject: string;
  /** subject / baseline, or another headline figure; '-' when none. */
  value: string;
  /** The floors measured in the same run, as the same ratio; '-' when none apply. */
  floor: string;
  target: string;
  /** true / false against the target; null when there is no target or it was not measured. */
  met: boolean | null;
}

export interface ScenarioOutcome {
  rows: ResultRow[];
  results: Partial<ResultKeys>;
  /** Raw numbers kept in results.json under details.<scenario>. */
  details?: Record<string, unknown>;
  /** Why keys are null (pending work), kept in results.json under pending.<scenario>. */
  pending?: string;
}

/** A row with no floor and no target: a figure reported for context. */
export function reportRow(scenario: string, measure: string, baseline: string, subject: string, value = '-'): ResultRow {
  return { scenario, measure, baseline, subject, value, floor: '-', target: 'report', met: null };
}

export function fmt(value: number, digits = 2): string {
  return value.toFixed(digits);
}

export const fmtX = (ratio: number) => `${fmt(ratio)}x`;

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}
