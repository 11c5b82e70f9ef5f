import { Duration } from 'luxon';
import { AqeventError } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const SHORT_FORM = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/** A duration as accepted by options and the CLI: "250ms", "30s", "5m", "2h", "7d", "1w", ISO 8601 ("PT5M"), or milliseconds. */
export type DurationInput = string | number;

/**
 * Parses a duration into whole milliseconds. Accepts a short form
 * (`250ms`, `30s`, `5m`, `2h`, `7d`, `1w`, decimals allowed: `1.5s`), an ISO
 * 8601 duration (`PT5M`, `P1DT2H`; months and years are rejected, their
 * length varies) or a non-negative number of milliseconds.
 */
export function parseDuration(input: DurationInput, what = 'duration'): number {
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input >= 0) return Math.round(input);
    throw invalid(what, String(input));
  }
  if (typeof input !== 'string') throw invalid(what, String(input));
  const text = input.trim();
  const short = SHORT_FORM.exec(text);
  if (short) return Math.round(Number(short[1]) * UNIT_MS[short[2]!]!);
  if (/^P.*\d/i.test(text)) {
    const duration = Duration.fromISO(text.toUpperCase());
    const parts = duration.isValid ? duration.toObject() : undefined;
    if (parts && !parts.years && !parts.months && !parts.quarters) {
      const ms = duration.as('milliseconds');
      if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
    }
  }
  throw invalid(what, input);
}

/** Milliseconds as the short form parseDuration reads back, in the largest exact unit: 30000 → "30s", 90000 → "90s", 0 → "0s". */
export function durationText(ms: number): string {
  const whole = Math.round(ms);
  if (whole === 0) return '0s';
  const unit = (['w', 'd', 'h', 'm', 's'] as const).find((u) => whole % UNIT_MS[u]! === 0);
  return unit ? `${whole / UNIT_MS[unit]!}${unit}` : `${whole}ms`;
}

/** A PostgreSQL interval literal for milliseconds, exact to the millisecond. */
export function toInterval(ms: number): string {
  return `${Math.round(ms)} milliseconds`;
}

/** parseDuration, then toInterval. */
export function parseInterval(input: DurationInput, what = 'duration'): string {
  return toInterval(parseDuration(input, what));
}

function invalid(what: string, given: string): AqeventError {
  return new AqeventError('invalid_argument',
    `${what} "${given}" is not a duration: use e.g. 250ms, 30s, 5m, 2h, 7d, 1w, or ISO 8601 such as PT5M`);
}
