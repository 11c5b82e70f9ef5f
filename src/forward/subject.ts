import type { DeliveredEvent } from '../events/schema.js';
import { AqeventError } from '../errors.js';

/** The default subject of a forwarded event. */
export const DEFAULT_SUBJECT = 'aqevent.{schema}.{table}.{operation}';

const PLACEHOLDERS = ['schema', 'table', 'operation', 'session', 'partition'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** What a placeholder stands for, per event. */
export interface SubjectValues {
  schema: string;
  table: string;
  operation: string;
  session: string;
  partition: string;
}

/**
 * One subject token from a name: letters, digits, `_` and `-` stay, every
 * other byte of its UTF-8 becomes `%XX` (so `.`, `*`, `>` and spaces can
 * never split or widen a subject, and two names never share a token).
 */
export function subjectToken(value: string): string {
  if (value === '') return '%';
  let token = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    token += /[A-Za-z0-9_-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return token;
}

type Part = { literal: string } | { placeholder: Placeholder };

/** A parsed subject template such as 'aqevent.{schema}.{table}.{operation}'. */
export class SubjectTemplate {
  private readonly parts: Part[];

  constructor(readonly template: string) {
    this.parts = parseTemplate(template);
  }

  /** The subjects of a stream made for this template: its first token, then '>' ('aqevent.>' for the default). */
  get streamSubjects(): string[] {
    const first = this.parts[0];
    const token = first && 'literal' in first ? first.literal.split('.')[0]! : '';
    if (token === '' || !first || !('literal' in first) || !first.literal.includes('.')) {
      throw new AqeventError('invalid_argument', `subject template "${this.template}" must start with a literal token and a dot (e.g. "aqevent.")`);
    }
    return [`${token}.>`];
  }

  /** Whether the template uses {partition}. */
  get usesPartition(): boolean {
    return this.parts.some((part) => 'placeholder' in part && part.placeholder === 'partition');
  }

  render(values: SubjectValues): string {
    return this.parts.map((part) => ('literal' in part ? part.literal : subjectToken(values[part.placeholder]))).join('');
  }

  /** The values of an event (session and partition from the forwarder). */
  static values(event: DeliveredEvent, session: string, partition: string): SubjectValues {
    return { schema: event.relation_id?.schema_id.name ?? '_', table: event.relation_id?.name ?? '_', operation: event.operation, session, partition };
  }
}

function parseTemplate(template: string): Part[] {
  const fail = (why: string) => new AqeventError('invalid_argument', `invalid subject template "${template}": ${why}`);
  const parts: Part[] = [];
  const pattern = /\{([^{}]*)\}|([^{}]+)|([{}])/g;
  for (const match of template.matchAll(pattern)) {
    if (match[3]) throw fail(`unmatched "${match[3]}"`);
    if (match[2]) {
      parts.push({ literal: match[2] });
      continue;
    }
    const name = match[1] as Placeholder;
    if (!PLACEHOLDERS.includes(name)) throw fail(`unknown placeholder {${match[1]}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})`);
    parts.push({ placeholder: name });
  }
  // Each token is either literal text or exactly one placeholder: a placeholder fills a whole token.
  const sample = parts.map((part) => ('literal' in part ? part.literal : '\u0000')).join('');
  const tokens = sample.split('.');
  for (const token of tokens) {
    if (token === '') throw fail('empty token (a leading, trailing or doubled ".")');
    if (token.includes('\u0000') && token !== '\u0000') throw fail('a placeholder must be a whole token, between dots');
    if (token !== '\u0000' && /[\s*>%]/.test(token)) throw fail(`token "${token}" holds a space, "*", ">" or "%"`);
  }
  return parts;
}

/** Whether a concrete subject is matched by a JetStream subject filter ('*' one token, '>' the rest). */
export function subjectMatches(filter: string, subject: string): boolean {
  const want = filter.split('.');
  const have = subject.split('.');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '>') return have.length > i;
    if (i >= have.length) return false;
    if (want[i] !== '*' && want[i] !== have[i]) return false;
  }
  return want.length === have.length;
}
