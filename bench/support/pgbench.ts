/** Finding and running pgbench against a bench database. */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';

const run = promisify(execFile);

/** $PGBENCH, else pgbench on PATH, else the newest /usr/lib/postgresql/<v>/bin/pgbench; null when none. */
export function findPgbench(): string | null {
  if (process.env.PGBENCH) return process.env.PGBENCH;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'pgbench'))) return join(dir, 'pgbench');
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const candidate = join(root, v, 'bin', 'pgbench');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** What pgbench takes as its database argument: the connection string, or the name (PG* do the rest). */
export function pgbenchTarget(config: pg.ClientConfig): string {
  const target = config.connectionString ?? config.database;
  if (!target) throw new Error('pgbench: the bench database has neither a connection string nor a name');
  return target;
}

export async function pgbench(binary: string, args: readonly string[], config: pg.ClientConfig): Promise<string> {
  const env = { ...process.env, ...(typeof config.password === 'string' ? { PGPASSWORD: config.password } : {}) };
  const { stdout, stderr } = await run(binary, [...args, pgbenchTarget(config)], { env, maxBuffer: 16 * 2 ** 20 });
  return `${stdout}\n${stderr}`;
}

/** The "tps = …" figure of a pgbench run's report. */
export function parseTps(output: string): number {
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(output) ?? /tps = ([\d.]+)/.exec(output);
  if (!match) throw new Error(`pgbench: no tps in its output:\n${output}`);
  return Number(match[1]);
}
