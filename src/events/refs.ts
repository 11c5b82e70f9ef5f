import { z } from 'zod';
import { validate } from '../validate.js';

/** Something that names an event: its id, or the event itself. */
export type EventRef = string | number | bigint | { readonly id: string | number | bigint };

const eventIdSchema = z.union([
  z.string().regex(/^\d+$/, 'an event id is a non-negative integer'),
  z.number().int().nonnegative(),
  z.bigint().nonnegative(),
]).transform(String);
const eventRefsSchema = z.array(z.union([eventIdSchema, z.object({ id: eventIdSchema }).transform((e) => e.id)]));

/** Event ids as the decimal strings PostgreSQL's bigint[] accepts. */
export function eventIds(refs: EventRef | readonly EventRef[]): string[] {
  return validate(eventRefsSchema, Array.isArray(refs) ? refs : [refs], 'event ids');
}
