/** Single-row writers: clients each looping a prepared single-row INSERT, one transaction each. */
import type pg from 'pg';
import { INSERT_ONE_SQL } from './tables.js';

let lastId = 0;
/** Row ids unique across the whole run, so phases never collide on a key. */
export const nextId = () => ++lastId;

/** Transactions per second of `clients` inserting single rows into bench.<table> for `seconds`. */
export async function insertPhase(clients: readonly pg.Client[], table: string, seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  const counts = await Promise.all(clients.map(async (client) => {
    let n = 0;
    const query = { name: `insert_${table}`, text: INSERT_ONE_SQL(table), values: [0] as unknown[] };
    while (Date.now() < deadline) {
      query.values = [nextId()];
      await client.query(query);
      n++;
    }
    return n;
  }));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return counts.reduce((a, b) => a + b, 0) / elapsed;
}
