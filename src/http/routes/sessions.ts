import { z } from 'zod';
import { toInterval } from '../../duration.js';
import { durationOption } from '../../validate.js';
import { asRole } from '../as-role.js';
import { readJson } from '../body.js';
import type { Route } from '../context.js';
import { sendJson } from '../http-error.js';
import { parseBody, pathUuid } from '../input.js';

const createSchema = z.object({
  /** Delete the session when it has not been attached for this long. */
  ttl: durationOption('ttl').refine((ms) => ms > 0, 'ttl must be longer than 0').optional(),
}).strict();

/** POST /sessions → 201 { id }: a session owned by the caller's role. */
export const createSession: Route = async ({ req, res, pool, identity }) => {
  const body = parseBody(createSchema, await readJson(req), 'session');
  const id = await asRole(pool, await identity(), async (client) => {
    const { rows } = await client.query<{ id: string }>('SELECT event.session_create() AS id');
    const sessionId = rows[0]!.id;
    if (body.ttl !== undefined) await client.query('SELECT event.session_set_ttl($1, $2::interval)', [sessionId, toInterval(body.ttl)]);
    return sessionId;
  });
  res.setHeader('location', `/sessions/${id}`);
  sendJson(res, 201, { id });
};

/** DELETE /sessions/:id → 204. */
export const deleteSession: Route = async ({ res, pool, identity, params }) => {
  const sessionId = pathUuid(params.id, 'session');
  await asRole(pool, await identity(), (client) => client.query('SELECT event.session_delete($1)', [sessionId]));
  res.writeHead(204).end();
};
