import type { Command } from 'commander';
import type { DeliveredEvent } from '../../index.js';
import { type GlobalOptions, openContext } from '../context.js';
import { toJson } from '../format.js';
import { port } from './serve.js';

const SCHEMA = `DROP SCHEMA IF EXISTS aqevent_demo CASCADE;
  CREATE SCHEMA aqevent_demo;
  CREATE TABLE aqevent_demo.person (id serial PRIMARY KEY, name text, score int);
  INSERT INTO aqevent_demo.person (name, score) VALUES
    ('Joe Smith', 15), ('Don Jones', 12), ('Sandy Hill', 16), ('Nancy Makowsky', 9);`;

/** The writes of the tour: the demo plays the application (they run as written, in the demo's schema). */
const STATEMENTS = [
  "insert into person (name, score) values ('Don Pablo', 14)",
  "update person set name = 'Sandy Jones', score = score + 3 where id = 3",
  'delete from person where id = 4',
];
const EXPECTED = 4;
const TIMEOUT_MS = 10_000;

function describe(event: DeliveredEvent): string {
  const key = event.row_id ? JSON.stringify(event.row_id.pk_value) : '';
  return `#${event.id} ${event.operation} person ${key} ${JSON.stringify(event.payload)}`;
}

/** The person example of the Aquameta chapter, live. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('walk through the person example: subscribe, write, and print the events as they arrive')
    .option('--web', 'serve a page that shows the person table live instead (until Ctrl-C)')
    .option('--port <port>', 'with --web: TCP port', port, 8787)
    .option('--host <host>', 'with --web: address to listen on', '127.0.0.1')
    .action(async (options: { web?: boolean; port: number; host: string }, command: Command) => {
      const context = await openContext(command.optsWithGlobals<GlobalOptions>());
      if (options.web) {
        try {
          const { runWebDemo } = await import('./demo-web.js');
          return await runWebDemo(context, options);
        } finally {
          await context.close();
        }
      }
      const { aq, json } = context;
      const say = (line: string) => (json ? undefined : console.log(line));
      try {
        say(`database: ${context.connection.description}`);
        await aq.migrate();
        await aq.pool.query(SCHEMA);
        const session = await aq.createSession();
        say(`session ${session.id}`);
        await session.subscribeTable('aqevent_demo.person');
        say('subscribed to table aqevent_demo.person\n');

        // Read only: follow() leases nothing, so the events stay in the inbox for the count below.
        const stop = new AbortController();
        const timeout = setTimeout(() => stop.abort(), TIMEOUT_MS);
        let received = 0;
        const printing = (async () => {
          for await (const event of session.follow({ signal: stop.signal })) {
            console.log(json ? toJson(event) : `  ← ${describe(event)}`);
            if (++received === EXPECTED) break;
          }
        })();
        for (const statement of STATEMENTS) {
          say(`→ ${statement}`);
          await aq.pool.query(`SET LOCAL search_path = aqevent_demo; ${statement}`);
        }
        await printing;
        clearTimeout(timeout);
        if (received < EXPECTED) throw new Error(`timed out: ${received} of ${EXPECTED} events arrived within ${TIMEOUT_MS / 1000}s`);

        const inbox = await session.info();
        say(`\n${inbox.backlog + inbox.inFlight} events are in the session's inbox; deleting the demo session.`);
        await session.delete();
        await aq.pool.query('DROP SCHEMA aqevent_demo CASCADE');
      } finally {
        await context.close();
      }
    });
}
