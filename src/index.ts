// The public API of aqevent. Anything not exported here is internal.
export { AqeventError, type AqeventErrorCode } from './errors.js';
export { type ConnectionOptions, resolveConnection } from './db/connect.js';
export { ensureEmbedded, stopEmbedded, type EmbeddedOptions } from './db/embedded.js';
export { migrate, type MigrateResult } from './db/migrate.js';
