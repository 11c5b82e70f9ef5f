import type { Command } from 'commander';
import pg from 'pg';
import { migrate } from '../../db/migrate.js';
import { type GlobalOptions, openContext } from '../context.js';
import { LISTEN_SQL } from '../../db/wake.js';

const STATEMENTS = [
  "insert into person (name, score) values ('Don Pablo', 14)",
  "update person set name = 'Sandy Jones', score = score + 3 where id = 3",
  'delete from person where id = 4',
];

function describe(event: Record<string, any>): string {
  const key = event.row_id ? JSON.stringify(event.row_id.pk_value) : '';
  return `#${event.id} ${event.operation} person ${key} ${JSON.stringify(event.payload)}`;
}

/** The person example of the Aquameta chapter, live. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('walk through the person example: subscribe, write, and print the events as they arrive')
    .action(async (_options, command: Command) => {
      const context = await openContext(command.optsWithGlobals<GlobalOptions>());
      const say = (line: string) => (context.json ? undefined : console.log(line));
      const listener = new pg.Client(context.connection.clientConfig);
      try {
        say(`database: ${context.connection.description}`);
        await migrate(context.pool);
        await context.pool.query(`DROP SCHEMA IF EXISTS aqevent_demo CASCADE;
          CREATE SCHEMA aqevent_demo;
          CREATE TABLE aqevent_demo.person (id serial PRIMARY KEY, name text, score int);
          INSERT INTO aqevent_demo.person (name, score) VALUES
            ('Joe Smith', 15), ('Don Jones', 12), ('Sandy Hill', 16), ('Nancy Makowsky', 9);`);
        const { rows } = await context.pool.query<{ id: string }>('SELECT event.session_create() AS id');
        const sessionId = rows[0]!.id;
        say(`session ${sessionId}`);
        await context.pool.query("SELECT event.subscribe_table($1, meta.relation_id('aqevent_demo', 'person'))", [sessionId]);
        say("subscribed to table aqevent_demo.person\n");

        await listener.connect();
        const expected = 4;
        let lastId = '0';
        let count = 0;
        let wake: (() => void) | undefined;
        listener.on('notification', () => wake?.());
        await listener.query(LISTEN_SQL);
        const printNew = async () => {
          const { rows: fresh } = await context.pool.query<{ id: string; event: Record<string, any> }>(
            'SELECT id::text, event FROM event.peek($1, 100, $2::bigint)', [sessionId, lastId]);
          for (const row of fresh) {
            if (context.json) console.log(JSON.stringify(row.event));
            else console.log(`  ← ${describe(row.event)}`);
            lastId = row.id;
            count++;
          }
        };
        for (const statement of STATEMENTS) {
          say(`→ ${statement}`);
          const woken = new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 2000); });
          await context.pool.query(`SET search_path = aqevent_demo; ${statement}`);
          await woken;
          await printNew();
        }
        if (count < expected) console.error(`expected ${expected} events, saw ${count}`);
        const { rows: queued } = await context.pool.query('SELECT count(*)::int AS n FROM event.queue WHERE session_id = $1', [sessionId]);
        say(`\n${queued[0].n} events are in the session's inbox (event.queue); deleting the demo session.`);
        await context.pool.query('SELECT event.session_delete($1)', [sessionId]);
        await context.pool.query('DROP SCHEMA aqevent_demo CASCADE');
      } finally {
        await listener.end().catch(() => {});
        await context.close();
      }
    });
}
