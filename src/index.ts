// The public API of aqevent. Anything not exported here is internal.
export { AqeventError, type AqeventErrorCode } from './errors.js';
export { type ConnectionOptions, resolveConnection } from './db/connect.js';
export { ensureEmbedded, stopEmbedded, type EmbeddedOptions } from './db/embedded.js';
export { migrate, type MigrateResult } from './db/migrate.js';
export { Aqevent, type AqeventOptions } from './client.js';
export { Session, type FetchOptions, type NackOptions, type PeekOptions, type SessionSettings } from './session.js';
export { type EventBatch, type StreamOptions } from './consumer/event-stream.js';
export { Worker, type HandlerContext, type WorkerEvents, type WorkerHandler, type WorkerSource } from './worker/worker.js';
export { type RetryPolicy, type WorkerOptions } from './worker/options.js';
export { retryDelay } from './worker/backoff.js';
export { type DeadLetter, type DeliveryOrder, type EventRef, type PeekedEvent, type SessionStats } from './delivery/operations.js';
export { type RowKey, type TableTarget } from './targets.js';
export { type DurationInput, parseDuration, parseInterval, toInterval } from './duration.js';
export { parseLosslessJson } from './events/lossless-json.js';
export {
  type AqEvent, type ColumnId, type DeliveredEvent, type EventOperation, type FieldId, type FieldUpdateEvent, type RelationId,
  type RowDeleteEvent, type RowId, type RowInsertEvent, type TruncateEvent, eventSchema,
} from './events/schema.js';
export { bridgeToPgBoss, type BridgeOptions, type BridgeResult } from './bridge/pg-boss-bridge.js';
export { eventJobId } from './bridge/job-id.js';
export { forwardToNats, type ForwardResult, natsMessageId } from './forward/forwarder.js';
export { type ForwardLog, type ForwardOptions } from './forward/options.js';
export { DEFAULT_SUBJECT, subjectToken } from './forward/subject.js';
export { type ForwarderInfo, liveForwarders } from './forward/forwarders.js';
export {
  maintain, type MaintainOptions, type MaintenanceSummary, purge, type PurgeOptions, type PurgeResult, queueSize, type QueueSize,
} from './maintenance/operations.js';
export { type MaintenanceSchedule, scheduleMaintenance, type ScheduleMaintenanceOptions } from './maintenance/scheduler.js';
