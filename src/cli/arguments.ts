import { InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { AqeventError, durationText, parseDuration, parseUuid } from '../index.js';

/**
 * Parsers for command-line arguments, for commander's argParser. A bad value
 * becomes one line on stderr and exit code 2 (a usage error, main.ts).
 */

/** A usage error found after parsing (conflicting flags): exit code 2, like commander's own. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function parser<S extends z.ZodType>(schema: S, what: string): (value: string) => z.output<S> {
  return (value: string) => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    throw new InvalidArgumentError(`${what}: ${result.error.issues[0]?.message ?? 'invalid'}`);
  };
}

/** A uuid, checked by the library's one uuid check. */
function uuid(what: string): (value: string) => string {
  return (value: string) => {
    try {
      return parseUuid(value, what);
    } catch (error) {
      if (!(error instanceof AqeventError)) throw error;
      throw new InvalidArgumentError(error.message.replace(/^invalid /, ''));
    }
  };
}

export const sessionId = uuid('session id');
export const subscriptionId = uuid('subscription id');

/** "[schema.]table" as PostgreSQL reads it (without a schema: through search_path; "My Schema"."T" quoted). Resolved by the database. */
export const tableName = parser(z.string().trim().min(1, 'expected [schema.]table'), 'table');

export const columnName = parser(z.string().min(1, 'must not be empty'), 'column');

export const positiveInt = parser(z.string().regex(/^\d+$/, 'expected a positive integer').transform(Number)
  .refine((n) => n >= 1 && Number.isSafeInteger(n), 'expected a positive integer'), 'number');

export const deliveryOrder = parser(z.enum(['strict', 'parallel'], 'expected strict or parallel'), 'delivery order');

/** An event id: a non-negative decimal integer, kept as a string (bigint). */
export const eventId = parser(z.string().regex(/^\d+$/, 'expected an event id (a non-negative integer)'), 'event id');

/** Variadic arguments go through the parser one at a time; commander passes the previous array. */
export function many<T>(parse: (value: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}

/** A duration: 250ms, 30s, 5m, 2h, 7d, 1w or ISO 8601 (PT5M); milliseconds. */
export function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/**
 * An option taking a duration. Its default (milliseconds) is shown in --help
 * as people write it ("30s"), or as `shown` ("now"); never as a bare number.
 */
export function durationOption(flags: string, description: string, defaultMs?: number, shown?: string): Option {
  const option = new Option(flags, description).argParser(duration);
  return defaultMs === undefined ? option : option.default(defaultMs, shown ?? durationText(defaultMs));
}

/**
 * A primary key: one value, or the values of a composite key in key order,
 * separated by commas. A value containing a comma or a double quote is
 * written in double quotes, with "" for a quote: 7,1  "a,b",2  "say ""hi""".
 */
export function rowKey(value: string): string[] {
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    let part = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= value.length) throw new InvalidArgumentError(`key: unterminated quote in ${value}`);
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += value[i++];
      }
      if (i < value.length && value[i] !== ',') throw new InvalidArgumentError(`key: expected a comma after the quoted value in ${value}`);
    } else {
      const end = value.indexOf(',', i);
      part = value.slice(i, end === -1 ? undefined : end);
      if (part.includes('"')) throw new InvalidArgumentError(`key: quote a value containing " as "…""…" in ${value}`);
      i = end === -1 ? value.length : end;
    }
    parts.push(part);
    if (i >= value.length) return parts;
    i++; // the comma
  }
}

/** Checks the options object commander built (the shapes its parsers promise): a mismatch is a UsageError. */
export function checkedOptions<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new UsageError(`${what}: ${result.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ')}`);
}

/** Runs parsing done inside an action: a bad value becomes a UsageError (exit 2). */
export function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new UsageError(error.message);
    throw error;
  }
}
