import type { Command } from 'commander';
import type pg from 'pg';
import { Session, type SubscribeOptions } from '../../index.js';
import { columnName, rowKey, sessionId, tableName, usage, UsageError } from '../arguments.js';
import { withContext } from '../context.js';
import { out, toJson } from '../format.js';

type Subscribe = (session: Session, o: SubscribeOptions) => Promise<string>;

/** The grains: the arguments each takes after the session, and the call. */
const GRAINS: Record<string, { args: string; parse(args: string[]): Subscribe }> = {
  table: {
    args: '<[schema.]table>',
    parse([table]) {
      const t = tableName(table!);
      return (s, o) => s.subscribeTable(t, o);
    },
  },
  row: {
    args: '<[schema.]table> <pk>',
    parse([table, key]) {
      const [t, k] = [tableName(table!), rowKey(key!)];
      return (s, o) => s.subscribeRow(t, k, o);
    },
  },
  field: {
    args: '<[schema.]table> <pk> <column>',
    parse([table, key, column]) {
      const [t, k, c] = [tableName(table!), rowKey(key!), columnName(column!)] as const;
      return (s, o) => s.subscribeField(t, k, c, o);
    },
  },
  column: {
    args: '<[schema.]table> <column>',
    parse([table, column]) {
      const [t, c] = [tableName(table!), columnName(column!)];
      return (s, o) => s.subscribeColumn(t, c, o);
    },
  },
};

const FORMS = Object.entries(GRAINS).map(([kind, g]) => `  aqevent subscribe <session> ${kind} ${g.args}`).join('\n');

/** aqevent subscribe <session> table|row|field|column … */
export function registerSubscribe(program: Command): void {
  program
    .command('subscribe')
    .description('subscribe a session to a table, a row, a field or a column; prints the subscription id')
    .argument('<session>', 'session id', sessionId)
    .argument('<grain>', 'table, row, field or column')
    .argument('<target...>', 'what to subscribe to, see the forms below')
    .option('--where <filter>', "only rows passing this SQL expression, e.g. \"score > 10 or name = 'Joe'\"")
    .option('--columns <list>', 'keep only these payload columns, comma-separated (table and row grains)')
    .option('--snapshot', 'deliver the current rows first, then the changes (table and column grains)')
    .addHelpText('after', `
Forms:
${FORMS}

<[schema.]table> is read as PostgreSQL reads a table name: without a schema it is looked up through the
connection's search_path; unquoted names fold to lower case; quote the others: '"My Schema"."Order"'.
<pk> is the primary key value. A composite key is its values in key order, separated by commas;
put a value that contains a comma or a double quote in double quotes, doubling quotes inside:
  7,1      "a,b",2      "say ""hi"""`)
    .action(async (id: string, grain: string, target: string[], flags: { where?: string; columns?: string; snapshot?: boolean },
      command: Command) => {
      const form = GRAINS[grain];
      if (!form) throw new UsageError(`unknown grain "${grain}": expected table, row, field or column`);
      const expected = form.args.split(' ').length;
      if (target.length !== expected) throw new UsageError(`subscribe ${grain} takes ${form.args}, got ${target.length} argument(s)`);
      const call = usage(() => form.parse(target));
      const options: SubscribeOptions = {};
      if (flags.where !== undefined) options.filter = flags.where;
      if (flags.columns !== undefined) options.columns = flags.columns.split(',').map((c) => c.trim()).filter(Boolean);
      if (flags.snapshot) options.snapshot = true;
      await withContext(command, async ({ aq, pool, json }) => {
        // A snapshot reports its progress as NOTICEs, on the one connection that copies it: shown on stderr.
        const client = options.snapshot ? await pool.connect() : undefined;
        const onNotice = (notice: { message?: string }) => {
          if (notice.message?.startsWith('aqevent: snapshot')) process.stderr.write(`${notice.message.slice('aqevent: '.length)}\n`);
        };
        client?.on('notice', onNotice);
        try {
          const session = client ? new Session(client as unknown as pg.Pool, id) : aq.session(id);
          const subscription = await call(session, options).catch((error: unknown) => {
            throw error instanceof TypeError ? new UsageError(error.message) : error;
          });
          out(json ? toJson({ id: subscription, sessionId: id, grain }) : subscription);
        } finally {
          client?.off('notice', onNotice);
          client?.release();
        }
      });
    });
}
