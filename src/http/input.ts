import { z } from 'zod';
import { httpError } from './http-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path segment that must be a uuid; anything else names nothing: 404. */
export function pathUuid(value: string | undefined, what: string): string {
  if (value === undefined || !UUID.test(value)) throw httpError(404, `${what} "${value ?? ''}" does not exist (not a uuid)`);
  return value.toLowerCase();
}

/** A JSON body checked against schema: 400 naming every problem. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  throw httpError(400, `invalid ${what}: ${problems.join('; ')}`);
}

/** An event id (bigint) as decimal text. */
export const eventIdSchema = z.union([z.string().regex(/^\d{1,19}$/, 'an event id is a non-negative integer'), z.number().int().nonnegative()])
  .transform(String);
