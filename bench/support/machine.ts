/** What the run happened on, recorded with every result. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type pg from 'pg';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory_gb: number;
  os: string;
  node: string;
  server: string;
  settings: Record<string, string>;
  commit: string | null;
}

const SETTINGS = ['shared_buffers', 'work_mem', 'synchronous_commit', 'fsync', 'wal_level', 'jit'];

export async function machineInfo(pool: pg.Pool): Promise<MachineInfo> {
  const { rows } = await pool.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name`, [SETTINGS]);
  const version = await pool.query<{ v: string }>('SELECT version() AS v');
  let commit: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = null;
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    server: version.rows[0]!.v.split(' on ')[0]!,
    settings: Object.fromEntries(rows.map((r) => [r.name, r.setting])),
    commit,
  };
}
