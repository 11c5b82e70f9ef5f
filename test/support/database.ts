import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ADMIN_URL_VAR, RUN_ID_VAR, TEMPLATE_VAR } from './harness-env.js';

export interface TestDatabase {
  /** Connection string of this file's own database, as the admin role. */
  url: string;
  name: string;
  pool: pg.Pool;
  /** Connection string for another login role on this database. */
  urlFor(role: string, password?: string): string;
  /** A prefix unique to this database, for cluster-wide names (roles). */
  prefix: string;
  drop(): Promise<void>;
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with "npm test" (test/run.ts)`);
  return value;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A fresh database cloned from the migrated template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = requireEnv(ADMIN_URL_VAR);
  const template = requireEnv(TEMPLATE_VAR);
  const runId = requireEnv(RUN_ID_VAR);
  const suffix = randomBytes(4).toString('hex');
  const name = `aqevent_t_${runId}_${suffix}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // CREATE DATABASE … TEMPLATE fails while another session is copying it.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt > 50) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on('error', () => {});
  return {
    url,
    name,
    pool,
    prefix: `aqt_${runId}_${suffix}`,
    urlFor(role: string, password = 'pw') {
      const parsed = new URL(url);
      parsed.username = role;
      parsed.password = password;
      return parsed.toString();
    },
    async drop() {
      await pool.end();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
