import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestDatabase } from './database.js';
import { BIN } from './cli.js';
import { parseLosslessJson } from '../../src/events/lossless-json.js';
import type { StreamMessage } from './nats.js';

/**
 * A table of `rows` rows, a session subscribed to it, and rows × changes
 * events in it: one insert per row, then changes - 1 updates of every row,
 * so each row has a chain of events whose order the stream must keep.
 */
export async function rowsWithHistory(db: TestDatabase, table: string, rows: number, changes: number): Promise<{ sessionId: string; ids: string[] }> {
  await db.pool.query(`CREATE TABLE public."${table}" (id int PRIMARY KEY, v int NOT NULL)`);
  const sessionId: string = (await db.pool.query('SELECT event.session_create() AS id')).rows[0].id;
  await db.pool.query("SELECT event.subscribe_table($1, meta.relation_id('public', $2))", [sessionId, table]);
  await db.pool.query(`INSERT INTO public."${table}" SELECT g, 0 FROM generate_series(1, $1::int) g`, [rows]);
  for (let i = 1; i < changes; i++) await db.pool.query(`UPDATE public."${table}" SET v = $1`, [i]);
  const { rows: found } = await db.pool.query<{ id: string }>("SELECT event->>'id' AS id FROM event.pending_event WHERE session_id = $1", [sessionId]);
  assert.equal(found.length, rows * changes, 'the events are in the session');
  return { sessionId, ids: found.map((r) => r.id) };
}

/** Events the session still holds (pending, leased or not). */
export async function remaining(db: TestDatabase, sessionId: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>('SELECT backlog + in_flight AS n FROM event.stats() WHERE session_id = $1', [sessionId]);
  return Number(rows[0]?.n ?? 0);
}

/** The forwarder as a CLI subprocess. */
export interface ForwarderProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/** The subject template of a test's stream: streams of one server may not share subjects, so each has its own first token. */
export function testSubject(stream: string): string {
  return `${stream.toLowerCase()}.{schema}.{table}.{operation}`;
}

const started: ForwarderProcess[] = [];

/** SIGKILLs every forwarder this file started that still runs (after a failure), before its stream is deleted. */
export async function killForwarders(): Promise<void> {
  for (const forwarder of started) {
    if (forwarder.child.exitCode === null && forwarder.child.signalCode === null) {
      forwarder.child.kill('SIGKILL');
      await forwarder.exited;
    }
  }
}

export function startForwarder(db: TestDatabase, sessionId: string, nats: string, stream: string, extra: string[] = []): ForwarderProcess {
  const child = spawn(process.execPath,
    [BIN, '--database-url', db.url, 'forward', sessionId, '--nats', nats, '--stream', stream, '--subject', testSubject(stream), ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const forwarder = { child, exited, stdout: () => stdout, stderr: () => stderr };
  started.push(forwarder);
  return forwarder;
}

/** Waits until the session holds at most `left` events; fails at once when the forwarder exits. */
export async function untilRemaining(db: TestDatabase, sessionId: string, left: number, forwarder: ForwarderProcess, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if ((await remaining(db, sessionId)) <= left) return;
    if (forwarder.child.exitCode !== null) throw new Error(`the forwarder exited (${forwarder.child.exitCode}): ${forwarder.stderr()}`);
    if (Date.now() > deadline) throw new Error(`the session still holds more than ${left} events after ${ms} ms; forwarder: ${forwarder.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Stops a forwarder gracefully and expects exit code 0. */
export async function stopForwarder(forwarder: ForwarderProcess): Promise<void> {
  forwarder.child.kill('SIGTERM');
  const { code } = await forwarder.exited;
  assert.equal(code, 0, `the forwarder stopped cleanly: ${forwarder.stderr()}`);
}

export interface StreamCounts {
  messages: number;
  distinctMessageIds: number;
  distinctEvents: number;
  rows: number;
}

/**
 * The stream holds every event exactly once -- one message per event, its
 * Nats-Msg-Id "<session>:<event id>" -- and each row's events in id order.
 */
export function assertExactlyOnce(messages: StreamMessage[], sessionId: string, ids: string[]): StreamCounts {
  const events = messages.map((m) => parseLosslessJson(m.data) as { id: string | number; row_id: unknown });
  const eventIds = events.map((event) => String(event.id));
  const msgIds = new Set(messages.map((m) => m.msgId));
  assert.deepEqual(messages.map((m) => m.msgId), eventIds.map((id) => `${sessionId}:${id}`), 'each message carries its event\'s Nats-Msg-Id');
  assert.equal(new Set(eventIds).size, messages.length, 'no event is in the stream twice');
  assert.deepEqual([...eventIds].sort(), [...ids].sort(), 'every event is in the stream');
  const lastOfRow = new Map<string, bigint>();
  for (const event of events) {
    const row = JSON.stringify(event.row_id);
    const id = BigInt(event.id);
    const last = lastOfRow.get(row);
    assert.ok(last === undefined || last < id, `row ${row}: event ${id} comes after ${last} in the stream`);
    lastOfRow.set(row, id);
  }
  return { messages: messages.length, distinctMessageIds: msgIds.size, distinctEvents: new Set(eventIds).size, rows: lastOfRow.size };
}
