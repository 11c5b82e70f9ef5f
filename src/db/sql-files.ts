import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The sql/ directory shipped with the package (next to src/ and dist/). */
export const SQL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'sql');

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/** The numbered migrations, in order. */
export async function loadMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((name) => FILE_NAME.test(name)).sort();
  const migrations: Migration[] = [];
  for (const file of names) {
    const [, version, name] = FILE_NAME.exec(file)!;
    migrations.push({ version: Number(version), name: name!, sql: await readFile(join(dir, file), 'utf8') });
  }
  return migrations;
}
