import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseInterval } from '../src/duration.js';
import { AqeventError } from '../src/errors.js';

test('short forms, ISO 8601 and milliseconds parse to milliseconds', () => {
  const cases: Array<[string | number, number]> = [
    ['250ms', 250], ['30s', 30_000], ['5m', 300_000], ['2h', 7_200_000], ['7d', 604_800_000], ['1w', 604_800_000],
    ['1.5s', 1500], [' 10s ', 10_000], ['PT5M', 300_000], ['pt0.5s', 500], ['P1DT2H', 93_600_000], ['PT0S', 0], [1234, 1234], [0, 0],
  ];
  for (const [input, expected] of cases) assert.equal(parseDuration(input), expected, String(input));
});

test('an interval literal is exact to the millisecond', () => {
  assert.equal(parseInterval('PT1M30.25S'), '90250 milliseconds');
});

test('garbage is rejected with a clear invalid_argument error', () => {
  for (const input of ['', 'soon', '5', '5 minutes', '-3s', 'P1M', 'P1Y', 'PT', '3x', -1, Number.NaN, Infinity]) {
    assert.throws(() => parseDuration(input, 'lease'), (error: unknown) =>
      error instanceof AqeventError && error.code === 'invalid_argument'
        && error.message.includes('lease') && error.message.includes('30s'), String(input));
  }
});
