import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The sql/ directory shipped with the package (next to src/ and dist/). */
export const SQL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'sql');

/** One script as migrate runs it: its name under sql/, its text with `\ir` includes expanded, its checksum. */
export interface SqlScript {
  name: string;
  sql: string;
  /** sha256 of the expanded text: a changed file or a changed include changes it. */
  checksum: string;
}

/** An upgrade script `sql/upgrade/FROM--TO.sql`. */
export interface UpgradeScript extends SqlScript {
  from: string;
  to: string;
}

const INCLUDE = /^\\ir\s+(\S+)\s*$/;
const UPGRADE_NAME = /^(.+)--(.+)\.sql$/;

/** Reads a psql script, replacing each `\ir file` line by that file (relative to the including file). */
export async function expandScript(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  const text = await readFile(path, 'utf8');
  const parts: string[] = [];
  for (const line of text.split('\n')) {
    const include = INCLUDE.exec(line);
    if (include) parts.push(await expandScript(dir, join(dirname(name), include[1]!)));
    else parts.push(line);
  }
  return parts.join('\n');
}

function script(name: string, sql: string): SqlScript {
  return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
}

/** The version the install script creates (sql/VERSION). */
export async function currentVersion(dir = SQL_DIR): Promise<string> {
  return (await readFile(join(dir, 'VERSION'), 'utf8')).trim();
}

/** The full install script of the current schema. */
export async function loadInstall(dir = SQL_DIR): Promise<SqlScript> {
  return script('install.sql', await expandScript(dir, 'install.sql'));
}

/** Every upgrade script, by name. */
export async function loadUpgrades(dir = SQL_DIR): Promise<UpgradeScript[]> {
  const names = (await readdir(join(dir, 'upgrade'))).filter((name) => UPGRADE_NAME.test(name)).sort();
  const upgrades: UpgradeScript[] = [];
  for (const file of names) {
    const [, from, to] = UPGRADE_NAME.exec(file)!;
    upgrades.push({ ...script(`upgrade/${file}`, await expandScript(dir, join('upgrade', file))), from: from!, to: to! });
  }
  return upgrades;
}
