import { randomBytes } from 'node:crypto';
import { migrate, mintToken, serve } from '../../index.js';
import { type CommandContext } from '../context.js';
import { demoPage } from '../demo-page.js';
import { out } from '../format.js';
import { untilSignal } from './serve.js';

const TABLE = 'aqevent_demo.person';

/** aqevent demo --web: the person table in a browser, live, until Ctrl-C. */
export async function runWebDemo(context: CommandContext, options: { port: number; host: string }): Promise<void> {
  await migrate(context.pool);
  await context.pool.query(`CREATE SCHEMA IF NOT EXISTS aqevent_demo;
    CREATE TABLE IF NOT EXISTS aqevent_demo.person (id serial PRIMARY KEY, name text, score int);
    INSERT INTO aqevent_demo.person (name, score)
    SELECT * FROM (VALUES ('Joe Smith', 15), ('Don Jones', 12), ('Sandy Hill', 16), ('Nancy Makowsky', 9)) v
    WHERE NOT EXISTS (SELECT 1 FROM aqevent_demo.person)`);
  const { rows } = await context.pool.query<{ role: string }>('SELECT current_user AS role');
  const jwtSecret = process.env.AQEVENT_JWT_SECRET || randomBytes(32).toString('base64url');
  const token = await mintToken({ secret: jwtSecret, role: rows[0]!.role, ttlMs: 86_400_000 });
  const page = demoPage(TABLE);
  const running = await serve(context.aq, {
    port: options.port,
    host: options.host,
    jwtSecret,
    extra: (req, res) => {
      if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/') return false;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
      return true;
    },
  });
  const url = `${running.url}/#token=${token}`;
  const conninfo = context.connection.clientConfig.connectionString;
  const psql = `psql ${conninfo ? `"${conninfo}" ` : ''}-c "UPDATE ${TABLE} SET score = score + 1 WHERE id = 1"`;
  if (context.json) {
    out(JSON.stringify({ url, psql, database: context.connection.description }));
  } else {
    out(`database: ${context.connection.description}`);
    out(`open:     ${url}`);
    out(`then:     ${psql}`);
    out('(Ctrl-C to stop; the table aqevent_demo.person is kept)');
  }
  await untilSignal(() => running.close());
}
