import pg from '/work/main/node_modules/pg/lib/index.js';
import { migrate } from '/work/main/src/db/migrate.ts';
import { loadMigrations } from '/work/main/src/db/sql-files.ts';
const pool = new pg.Pool({ connectionString: process.argv[2] });
const all = await loadMigrations();
console.log(await migrate(pool, all.filter((m) => m.version < Number(process.argv[3]))));
await pool.end();
