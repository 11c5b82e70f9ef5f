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

export const uuidSchema = z.string().uuid();
