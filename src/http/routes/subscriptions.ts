import type pg from 'pg';
import { z } from 'zod';
import { Session } from '../../session.js';
import { asRole } from '../as-role.js';
import { readJson } from '../body.js';
import type { Route } from '../context.js';
import { sendJson } from '../http-error.js';
import { parseBody, pathUuid } from '../input.js';

const table = z.string().min(3);
const key = z.union([z.string(), z.number(), z.array(z.union([z.string(), z.number()])).min(1)]);
const column = z.string().min(1);

const filter = z.string().min(1).nullish();
const columns = z.array(z.string().min(1)).min(1).nullish();
const snapshot = z.boolean().optional();

/** target per grain: "schema.table", [table, column], [table, key], [table, key, column]; what narrows each. */
const subscribeSchema = z.discriminatedUnion('grain', [
  z.object({ grain: z.literal('table'), target: z.union([table, z.tuple([table])]), filter, columns, snapshot }).strict(),
  z.object({ grain: z.literal('column'), target: z.tuple([table, column]), filter, snapshot }).strict(),
  z.object({ grain: z.literal('row'), target: z.tuple([table, key]), filter, columns }).strict(),
  z.object({ grain: z.literal('field'), target: z.tuple([table, key, column]), filter }).strict(),
]);
type Subscribe = z.output<typeof subscribeSchema>;

function subscribe(session: Session, body: Subscribe): Promise<string> {
  switch (body.grain) {
    case 'table':
      return session.subscribeTable(typeof body.target === 'string' ? body.target : body.target[0],
        { filter: body.filter, columns: body.columns, snapshot: body.snapshot });
    case 'column':
      return session.subscribeColumn(body.target[0], body.target[1], { filter: body.filter, snapshot: body.snapshot });
    case 'row':
      return session.subscribeRow(body.target[0], body.target[1], { filter: body.filter, columns: body.columns });
    case 'field':
      return session.subscribeField(body.target[0], body.target[1], body.target[2], { filter: body.filter });
  }
}

/** A Session on the request's transaction (it only calls query()). */
export function sessionOn(client: pg.PoolClient, id: string): Session {
  return new Session(client as unknown as pg.Pool, id);
}

/** POST /sessions/:id/subscriptions → 201 { id }. */
export const createSubscription: Route = async ({ req, res, pool, identity, params }) => {
  const sessionId = pathUuid(params.id, 'session');
  const body = parseBody(subscribeSchema, await readJson(req), 'subscription');
  const id = await asRole(pool, await identity(), (client) => subscribe(sessionOn(client, sessionId), body));
  sendJson(res, 201, { id });
};

/** DELETE /subscriptions/:id → 204. */
export const deleteSubscription: Route = async ({ res, pool, identity, params }) => {
  const subscriptionId = pathUuid(params.id, 'subscription');
  await asRole(pool, await identity(), (client) => client.query('SELECT event.unsubscribe($1)', [subscriptionId]));
  res.writeHead(204).end();
};
