// Subjects of forwarded events: names as tokens, the template's rules, and
// the {partition} of a row (stable, spread, 'all' for a truncate).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeliveredEvent } from '../src/index.js';
import { rowPartition } from '../src/forward/partition.js';
import { SubjectTemplate, subjectMatches, subjectToken } from '../src/forward/subject.js';

const relation = { schema_id: { name: 'public' }, name: 'person' };
const eventOf = (key: string, operation = 'row_insert'): DeliveredEvent => ({
  id: '1', subscription_type: 'table', subscription_id: '00000000-0000-0000-0000-000000000000', relation_id: relation,
  transaction_id: '1', timestamp: '2026-12-03T00:00:00Z', attempts: 1, operation,
  row_id: operation === 'truncate' ? null : { pk_column_id: { relation_id: relation, name: 'id' }, pk_value: key },
  payload: operation === 'truncate' ? null : {},
} as unknown as DeliveredEvent);

test('a name becomes one token: A-Z a-z 0-9 _ - stay, every other UTF-8 byte is %XX', () => {
  assert.equal(subjectToken('person_2-b'), 'person_2-b');
  assert.equal(subjectToken('a.b*c >d'), 'a%2Eb%2Ac%20%3Ed');
  assert.equal(subjectToken('ü'), '%C3%BC');
  assert.equal(subjectToken('100%'), '100%25');
  assert.notEqual(subjectToken('a.b'), subjectToken('a_b'));
});

test('the template: placeholders fill whole tokens; the stream takes <first token>.>', () => {
  const template = new SubjectTemplate('aqevent.{schema}.{table}.{operation}.{partition}');
  const event = eventOf('7');
  assert.equal(template.render(SubjectTemplate.values(event, 's', '3')), 'aqevent.public.person.row_insert.3');
  assert.deepEqual(template.streamSubjects, ['aqevent.>']);
  assert.ok(template.usesPartition);
  assert.ok(subjectMatches('aqevent.>', 'aqevent.public.person.row_insert'));
  assert.ok(subjectMatches('aqevent.*.*.row_insert', 'aqevent.public.person.row_insert'));
  assert.ok(!subjectMatches('aqevent.*', 'aqevent.public.person'));
  assert.ok(!subjectMatches('other.>', 'aqevent.public'));
  for (const bad of ['aq.{x}', 'aq.t{table}', '{table}.aq', 'aq..{table}', 'aq.{table', 'aq.a b.{table}', 'aq.*.{table}']) {
    assert.throws(() => new SubjectTemplate(bad).streamSubjects, (error: { code?: string }) => error.code === 'invalid_argument', bad);
  }
});

test('{partition}: every event of a row on one partition, rows spread over all of them, truncates on "all"', () => {
  const partitions = 8;
  const counts = new Map<string, number>();
  for (let key = 0; key < 4000; key++) {
    const partition = rowPartition(eventOf(String(key)), partitions);
    assert.equal(rowPartition(eventOf(String(key), 'row_delete'), partitions), partition, 'the same row, the same partition');
    counts.set(partition, (counts.get(partition) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), ['0', '1', '2', '3', '4', '5', '6', '7']);
  for (const n of counts.values()) assert.ok(n > 350 && n < 650, `spread evenly (${[...counts.values()].join('/')})`);
  assert.equal(rowPartition(eventOf('1', 'truncate'), partitions), 'all');
});
