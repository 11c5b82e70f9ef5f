import type pg from 'pg';
import { AqeventError, fromPgError } from '../errors.js';
import { currentVersion, loadInstall, loadUpgrades, type SqlScript, type UpgradeScript } from './sql-files.js';

/** Key of the transaction-scoped advisory lock that serialises migrations. */
const MIGRATION_LOCK_KEY = 7021933452185599999n;

/**
 * The schema before the install-script convention: numbered migrations
 * 001–064 recorded in event.migration. The oldest schema migrate can upgrade.
 */
export const MINIMUM_UPGRADABLE = '64';

export interface MigrateResult {
  /** Scripts run by this call (empty when the schema was current). */
  applied: string[];
  /** The schema version after the call. */
  version: string;
}

export interface MigrateStatus {
  /** The installed version, or null for a database without aqevent. */
  installed: string | null;
  /** The version this package installs. */
  target: string;
  /** Scripts migrate would run, in order (empty: current). */
  plan: string[];
}

export interface MigrateOptions {
  /** Only report what would run (as `status`), changing nothing. */
  dryRun?: boolean;
}

interface Scripts {
  target: string;
  install: SqlScript;
  upgrades: UpgradeScript[];
}

async function loadScripts(): Promise<Scripts> {
  return { target: await currentVersion(), install: await loadInstall(), upgrades: await loadUpgrades() };
}

interface HistoryRow {
  script: string;
  version: string;
  checksum: string;
}

/** What the database says is installed: its history rows, or the pre-0.2 migration number. */
async function installedState(client: pg.ClientBase): Promise<{ version: string | null; history: HistoryRow[] }> {
  const { rows } = await client.query<{ history: string | null; legacy: string | null }>(
    "SELECT to_regclass('event.schema_history')::text AS history, to_regclass('event.migration')::text AS legacy");
  if (rows[0]!.history) {
    const history = (await client.query<HistoryRow>(
      'SELECT script, version, checksum FROM event.schema_history ORDER BY applied_at, script')).rows;
    return { version: history.length ? history[history.length - 1]!.version : null, history };
  }
  if (rows[0]!.legacy) {
    const legacy = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM event.migration');
    return { version: legacy.rows[0]!.v === null ? null : String(legacy.rows[0]!.v), history: [] };
  }
  return { version: null, history: [] };
}

/** The chain of upgrade scripts from `from` to `to`, or null when there is none. */
function upgradePath(upgrades: UpgradeScript[], from: string, to: string): UpgradeScript[] | null {
  const path: UpgradeScript[] = [];
  let at = from;
  const seen = new Set<string>();
  while (at !== to) {
    const next = upgrades.find((u) => u.from === at);
    if (!next || seen.has(next.name)) return null;
    seen.add(next.name);
    path.push(next);
    at = next.to;
  }
  return path;
}

/** Refuses a database whose recorded scripts differ from the files of the same name and version. */
function checkHistory(history: HistoryRow[], scripts: Scripts): void {
  for (const row of history) {
    const file = row.script === scripts.install.name ? scripts.install : scripts.upgrades.find((u) => u.name === row.script);
    if (!file) continue;
    if (row.script === scripts.install.name && row.version !== scripts.target) continue; // install.sql moves on between versions
    if (file.checksum !== row.checksum) {
      throw new AqeventError('migration',
        `sql/${row.script} has changed since it was applied to this database (version ${row.version}): `
        + 'an applied script must never change; restore it, or add an upgrade script and a new version');
    }
  }
}

function plan(state: { version: string | null; history: HistoryRow[] }, scripts: Scripts): SqlScript[] {
  checkHistory(state.history, scripts);
  if (state.version === null) return [scripts.install];
  if (state.version === scripts.target) return [];
  const path = upgradePath(scripts.upgrades, state.version, scripts.target);
  if (!path) {
    throw new AqeventError('migration',
      `cannot upgrade the aqevent schema from version ${state.version} to ${scripts.target}: no upgrade path `
      + `(the oldest version this release upgrades from is ${MINIMUM_UPGRADABLE})`);
  }
  return path;
}

/** Which version is installed and what `migrate` would run, changing nothing. */
export async function migrateStatus(pool: pg.Pool): Promise<MigrateStatus> {
  const scripts = await loadScripts();
  const client = await pool.connect();
  try {
    const state = await installedState(client);
    return { installed: state.version, target: scripts.target, plan: plan(state, scripts).map((s) => s.name) };
  } catch (error) {
    throw error instanceof AqeventError ? error : fromPgError(error, 'migrate status');
  } finally {
    client.release();
  }
}

/**
 * Installs the current schema into a database without one, or runs the
 * upgrade scripts from the installed version, in one transaction under an
 * advisory lock, recording each script with its checksum in
 * event.schema_history. Any number of processes may call it at once: one
 * applies, the others find nothing to do.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  if (options.dryRun) {
    const status = await migrateStatus(pool);
    return { applied: [], version: status.installed ?? '' };
  }
  const scripts = await loadScripts();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SET LOCAL lock_timeout = '120s'");
    await client.query('SET LOCAL check_function_bodies = false');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    const steps = plan(await installedState(client), scripts);
    for (const step of steps) {
      try {
        await client.query(step.sql);
      } catch (error) {
        throw fromPgError(error, `sql/${step.name} failed`);
      }
      await client.query(`CREATE TABLE IF NOT EXISTS event.schema_history (
        script     text        NOT NULL,
        version    text        NOT NULL,
        checksum   text        NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (script, version))`);
      const version = 'to' in step ? (step as UpgradeScript).to : scripts.target;
      await client.query('INSERT INTO event.schema_history (script, version, checksum) VALUES ($1, $2, $3)',
        [step.name, version, step.checksum]);
    }
    if (steps.length === 0) await client.query('SELECT event._install_event_triggers()');
    if (steps.length && steps[steps.length - 1] !== scripts.install) {
      // after an upgrade, the install script of the version reached is what the database now runs
      await client.query('INSERT INTO event.schema_history (script, version, checksum) VALUES ($1, $2, $3)',
        [scripts.install.name, scripts.target, scripts.install.checksum]);
    }
    await client.query('COMMIT');
    return { applied: steps.map((s) => s.name), version: scripts.target };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    if (error instanceof AqeventError) throw new AqeventError('migration', error.message, error.details);
    throw new AqeventError('migration', fromPgError(error).message, { ...fromPgError(error).details });
  } finally {
    client.release();
  }
}
