// The public API of aqevent. Anything not exported here is internal.
export { AqeventError, type AqeventErrorCode } from './errors.js';
export { type ConnectionOptions, createPool, type ResolvedConnection, resolveConnection } from './db/connect.js';
export {
  embeddedStatus, type EmbeddedOptions, type EmbeddedServer, type EmbeddedStatus, ensureEmbedded, stopEmbedded,
} from './db/embedded.js';
export { migrate, migrateStatus, type MigrateResult, type MigrateStatus, type MigrateOptions } from './db/migrate.js';
export { Aqevent, type AqeventOptions } from './client.js';
export {
  Session, type FetchOptions, type NackOptions, type PeekOptions, type SessionSettings, type SubscribeOptions,
} from './session.js';
export { type EventBatch, type StreamOptions } from './consumer/event-stream.js';
export { type FollowOptions } from './consumer/follow.js';
export { Worker, type HandlerContext, type WorkerEvents, type WorkerHandler, type WorkerSource } from './worker/worker.js';
export { type RetryPolicy, type WorkerOptions } from './worker/options.js';
export { retryDelay } from './live/backoff.js';
export { type EventRef } from './events/refs.js';
export { type DeadLetter } from './sql/dead-letters.js';
export { type PeekedEvent } from './sql/peek.js';
export { type SessionDetails, type SessionSummary } from './sql/session-info.js';
export { type SessionMetrics } from './sql/metrics.js';
export { type DeliveryOrder, type SessionStats } from './sql/stats.js';
export { type SubscriptionSummary } from './sql/subscriptions.js';
export { type RowKey, type TableTarget } from './targets.js';
export { durationText, type DurationInput, parseDuration, parseInterval, toInterval } from './duration.js';
export { parseLosslessJson } from './events/lossless-json.js';
export { parseUuid } from './validate.js';
export {
  type AqEvent, type ColumnId, type DeliveredEvent, type EventOperation, type FieldId, type FieldUpdateEvent, type RelationId,
  type RowDeleteEvent, type RowId, type RowInsertEvent, type TruncateEvent, eventSchema, storedText,
} from './events/schema.js';
export { bridgeToPgBoss, type BridgeOptions, type BridgeResult } from './bridge/pg-boss-bridge.js';
export { eventJobId } from './bridge/job-id.js';
export { forwardToNats, type ForwardResult, natsMessageId } from './forward/forwarder.js';
export { type ForwardLog, type ForwardOptions } from './forward/options.js';
export { DEFAULT_SUBJECT, subjectToken } from './forward/subject.js';
export { type ForwarderInfo, liveForwarders } from './forward/forwarders.js';
export { type InstallGap, installGaps } from './sql/install-gaps.js';
export { type DdlFailure, ddlFailures } from './sql/ddl-failures.js';
export {
  maintain, type MaintainOptions, type MaintenanceSummary, purge, type PurgeOptions, type PurgeResult, queueSize, type QueueSize,
} from './maintenance/operations.js';
export { type MaintenanceSchedule, scheduleMaintenance, type ScheduleMaintenanceOptions } from './maintenance/scheduler.js';
export { createHandler, type AqeventHandler, type HandlerOptions } from './http/handler.js';
export { serve, type RunningServer, type ServeOptions } from './http/serve.js';
export { mintToken, type Identity } from './http/auth.js';
export { NOTIFY_CHANNEL, type NotifyMode } from './consumer/notify-channel.js';
