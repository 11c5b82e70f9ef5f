import { z } from 'zod';
import { AqeventError } from './errors.js';
import { type DurationInput, parseDuration } from './duration.js';

/** Validates input against a schema; failures are AqeventError 'invalid_argument' naming what was wrong. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
  throw new AqeventError('invalid_argument', `invalid ${what}: ${problems}`, { cause: result.error });
}

/** A duration option ("30s", "PT5M", milliseconds) as milliseconds. */
export function durationOption(what: string) {
  return z.union([z.string(), z.number()]).transform((input: DurationInput, context) => {
    try {
      return parseDuration(input, what);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

/** The one uuid check (session and subscription ids), case-insensitive; ids come out in lower case. */
export const uuidSchema = z.string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'expected a uuid such as 0b0e6c6e-5d1f-4a53-9c8e-1f2a3b4c5d6e')
  .transform((text) => text.toLowerCase());

/** A session, subscription, … id checked with uuidSchema: invalid_argument naming `what` when it is not a uuid. */
export function parseUuid(id: unknown, what = 'session id'): string {
  return validate(uuidSchema, id, what);
}
