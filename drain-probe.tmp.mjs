import pg from 'pg';
import { Aqevent } from './dist/index.js';
const url = 'postgres://postgres@127.0.0.1:5432/proto2';
const pool = new pg.Pool({ connectionString: url });
await pool.query('TRUNCATE big');
const sid = (await pool.query('SELECT event.session_create() AS id')).rows[0].id;
await pool.query("SELECT event.subscribe_table($1, meta.relation_id('public','big'))", [sid]);
await pool.query("INSERT INTO big SELECT g, g % 1000, 'item number ' || g, g FROM generate_series(1,100000) g");
const aq = await Aqevent.connect({ connectionString: url });
const session = await aq.attachSession(sid);
let tFetch = 0, tAck = 0, n = 0;
const t0 = performance.now();
for (;;) {
  let t = performance.now();
  const events = await session.fetch({ max: 1000 });
  tFetch += performance.now() - t;
  if (events.length === 0) break;
  n += events.length;
  t = performance.now();
  await session.ack(events);
  tAck += performance.now() - t;
}
const total = performance.now() - t0;
console.log(`events ${n} total ${total.toFixed(0)} ms fetch ${tFetch.toFixed(0)} ack ${tAck.toFixed(0)} -> ${(n / total * 1000).toFixed(0)} ev/s`);
await aq.close?.(); await pool.end();
