import type { ServerResponse } from 'node:http';
import type pg from 'pg';
import { type AqeventError, fromPgError, isTransient } from '../errors.js';
import type { WakeHub } from '../consumer/wake-hub.js';
import { asRole } from './as-role.js';
import type { Identity } from './auth.js';
import { HttpError, toHttpError } from './http-error.js';
import { pendingBatch } from './pending-batch.js';
import { sseComment, sseMessage } from './sse.js';

export interface StreamSettings {
  /** A comment line at least this often, so proxies keep the stream open. Default 15 s. */
  heartbeatMs: number;
  /** Re-read every stream at least this often even without a notification (lost notifications). Default 5 s. */
  pollMs: number;
  /** Events read per session and page. */
  pageSize: number;
  /** Sessions read in one statement. */
  batchSessions: number;
  /** Read statements running at once. */
  readConcurrency: number;
  /** How long the send order of a closed stream is kept, to resolve a Last-Event-ID exactly. */
  resumeMemoryMs: number;
}

export interface StreamObserver {
  delivered(count: number, eventTimestamps: string[]): void;
  /** A read of some sessions failed (transient ones are retried by the next notification or poll). */
  readFailed?(error: AqeventError, sessions: number): void;
}

/** One open text/event-stream response. */
export class EventStream {
  /** Ids above floor sent on this stream and not known to be acknowledged. */
  readonly sent = new Set<string>();
  /** Every id sent and not known to be acknowledged, in the order sent (for Last-Event-ID). */
  order: string[] = [];
  /** Every pending event with an id up to floor has been sent: reads start above it. */
  floor = 0n;
  /** The highest id of a read, and that read's snapshot xmax: the next floor once every such transaction has ended. */
  candidate: { id: bigint; xmax: bigint } | undefined;
  closed = false;

  constructor(readonly res: ServerResponse, readonly sessionId: string, readonly identity: Identity) {}

  write(text: string): void {
    if (!this.closed) this.res.write(text);
  }
}

function identityKey(identity: Identity): string {
  return `${identity.role}\u0000${identity.claims}`;
}

/**
 * Every open event stream of a server. Streams are read without leases
 * (pending events, as event.peek returns them): a notification, or the
 * poll, marks streams due; due streams are read together, one statement per
 * role and batchSessions sessions, never a connection per stream. A read
 * starts at the stream's floor, not after the last id sent (see readAll),
 * so an event whose transaction committed after one with a higher id is
 * still sent.
 */
export class EventStreams {
  private readonly streams = new Map<string, Set<EventStream>>();
  /** Send order of the last closed stream of a session, with when to forget it. */
  private readonly lastOrder = new Map<string, { order: string[]; timer: NodeJS.Timeout }>();
  private readonly due = new Set<string>();
  /** When each followed session was last read (performance.now()), so that the poll skips the ones read lately. */
  private readonly readAt = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private again = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly wake: WakeHub,
    private readonly settings: StreamSettings,
    private readonly observer: StreamObserver,
  ) {
    this.timers.push(setInterval(() => this.heartbeat(), settings.heartbeatMs).unref());
    this.timers.push(setInterval(() => this.poll(), Math.max(1, settings.pollMs / 2)).unref());
  }

  get size(): number {
    let n = 0;
    for (const set of this.streams.values()) n += set.size;
    return n;
  }

  /**
   * What this server sent on the session up to and including event lastId,
   * in send order: from a stream of the session that sent it (open, or closed
   * within resumeMemoryMs). Undefined when no such stream is known.
   */
  sentThrough(sessionId: string, lastId: string): string[] | undefined {
    const orders = [...(this.streams.get(sessionId) ?? [])].map((s) => s.order);
    const remembered = this.lastOrder.get(sessionId)?.order;
    if (remembered) orders.push(remembered);
    for (const order of orders) {
      const at = order.indexOf(lastId);
      if (at >= 0) return order.slice(0, at + 1);
    }
    return undefined;
  }

  async add(stream: EventStream): Promise<void> {
    await this.wake.follow(stream.sessionId);
    let set = this.streams.get(stream.sessionId);
    if (!set) this.streams.set(stream.sessionId, (set = new Set()));
    set.add(stream);
    stream.res.on('close', () => this.remove(stream));
    this.wakeSession(stream.sessionId);
  }

  remove(stream: EventStream): void {
    if (stream.closed) return;
    stream.closed = true;
    const set = this.streams.get(stream.sessionId);
    set?.delete(stream);
    if (set?.size === 0) {
      this.streams.delete(stream.sessionId);
      this.readAt.delete(stream.sessionId);
    }
    this.wake.unfollow(stream.sessionId);
    const previous = this.lastOrder.get(stream.sessionId);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => this.lastOrder.delete(stream.sessionId), this.settings.resumeMemoryMs).unref();
    this.lastOrder.set(stream.sessionId, { order: stream.order, timer });
    stream.res.end();
  }

  /** Events were acknowledged: streams need not remember them any more. */
  forget(sessionId: string, ids: readonly string[]): void {
    for (const stream of this.streams.get(sessionId) ?? []) this.forgetOn(stream, ids);
  }

  wakeSession(sessionId: string): void {
    if (!this.streams.has(sessionId)) return;
    this.due.add(sessionId);
    this.schedule();
  }

  wakeAll(): void {
    for (const sessionId of this.streams.keys()) this.due.add(sessionId);
    this.schedule();
  }

  /**
   * Every half poll interval: the sessions not read for half of it or more,
   * so that each is read at least once per interval, and sessions that
   * notifications keep reading cost the poll nothing.
   */
  private poll(): void {
    const stale = performance.now() - this.settings.pollMs / 2;
    for (const sessionId of this.streams.keys()) {
      if ((this.readAt.get(sessionId) ?? -Infinity) <= stale) this.due.add(sessionId);
    }
    if (this.due.size > 0) this.schedule();
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    for (const { timer } of this.lastOrder.values()) clearTimeout(timer);
    for (const set of [...this.streams.values()]) for (const stream of [...set]) this.remove(stream);
  }

  private heartbeat(): void {
    const text = sseComment('heartbeat');
    for (const set of this.streams.values()) for (const stream of set) stream.write(text);
  }

  private schedule(): void {
    if (this.flushing) {
      this.again = true;
      return;
    }
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flush())
      .finally(() => {
        this.flushing = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
  }

  /** Reads every due stream: grouped by identity, batchSessions sessions a statement. */
  private async flush(): Promise<void> {
    const sessions = [...this.due];
    this.due.clear();
    const groups = new Map<string, { identity: Identity; sessions: Set<string> }>();
    for (const sessionId of sessions) {
      for (const stream of this.streams.get(sessionId) ?? []) {
        const key = identityKey(stream.identity);
        let group = groups.get(key);
        if (!group) groups.set(key, (group = { identity: stream.identity, sessions: new Set() }));
        group.sessions.add(sessionId);
      }
    }
    const jobs: Array<() => Promise<void>> = [];
    for (const group of groups.values()) {
      const ids = [...group.sessions];
      for (let i = 0; i < ids.length; i += this.settings.batchSessions) {
        const chunk = ids.slice(i, i + this.settings.batchSessions);
        jobs.push(() => this.readChunk(group.identity, chunk));
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) await jobs[next++]!();
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.readConcurrency, jobs.length) }, worker));
  }

  /** Reads sessionIds in one statement; a failure is reported once, not again by the one-by-one retry. */
  private async readChunk(identity: Identity, sessionIds: string[], report = true): Promise<void> {
    try {
      await asRole(this.pool, identity, (client) => this.readAll(client, identity, sessionIds));
    } catch (error) {
      const failure = fromPgError(error);
      if (report) this.observer.readFailed?.(failure, sessionIds.length);
      if (isTransient(failure) || failure.code === 'connection') return; // the poll tries again
      if (sessionIds.length === 1) return this.fail(identity, sessionIds[0]!, error);
      // One session gone (deleted, or not the role's) fails the statement: read them one by one.
      for (const sessionId of sessionIds) await this.readChunk(identity, [sessionId], false);
    }
  }

  /**
   * Pages through each session from its streams' floor; sends what a stream
   * has not sent. Then moves floors: an event id is drawn inside its
   * writer's transaction, so a transaction still running may commit a lower
   * id than one already seen. The highest id seen by a read becomes a
   * stream's floor only once a later read's snapshot has no transaction
   * older than that read's xmax: by then every lower id is committed (or
   * never will be) and was read.
   */
  private async readAll(client: pg.PoolClient, identity: Identity, sessionIds: string[]): Promise<void> {
    const readAt = performance.now(); // before the snapshot of the first read
    const key = identityKey(identity);
    const mine = (sessionId: string) => [...(this.streams.get(sessionId) ?? [])].filter((s) => identityKey(s.identity) === key);
    const start = new Map(sessionIds.map((id) => [id, mine(id).reduce((low, s) => (s.floor < low ? s.floor : low), 1n << 62n)]));
    const seen = new Map<string, Set<string>>(sessionIds.map((id) => [id, new Set()]));
    let cursors = sessionIds.map((sessionId) => ({ sessionId, after: start.get(sessionId)!.toString() }));
    let first: bigint | undefined;
    let xmax = 0n;
    while (cursors.length > 0) {
      const { pages, snapshot } = await pendingBatch(client, cursors, this.settings.pageSize);
      first ??= snapshot.xmin;
      xmax = snapshot.xmax;
      cursors = [];
      for (const page of pages) {
        if (!page.exists) {
          this.fail(identity, page.sessionId, new HttpError(404, '42704', `session "${page.sessionId}" does not exist`));
          seen.delete(page.sessionId);
          continue;
        }
        for (const row of page.rows) seen.get(page.sessionId)!.add(row.id);
        for (const stream of mine(page.sessionId)) this.send(stream, page.rows);
        if (page.rows.length === this.settings.pageSize) cursors.push({ sessionId: page.sessionId, after: page.rows.at(-1)!.id });
      }
    }
    for (const [sessionId, ids] of seen) {
      if (this.streams.has(sessionId)) this.readAt.set(sessionId, readAt);
      const from = start.get(sessionId)!;
      let highest = from;
      for (const id of ids) if (BigInt(id) > highest) highest = BigInt(id);
      for (const stream of mine(sessionId)) {
        // Read to the end from `from`: what the stream sent above it and is no longer pending was acknowledged.
        const gone = [...stream.sent].filter((id) => !ids.has(id) && BigInt(id) > from);
        if (gone.length > 0) this.forgetOn(stream, gone);
        if (stream.candidate && first! >= stream.candidate.xmax) {
          const floor = stream.candidate.id;
          stream.candidate = undefined;
          if (floor > stream.floor) stream.floor = floor;
          for (const id of stream.sent) if (BigInt(id) <= stream.floor) stream.sent.delete(id);
        }
        if (!stream.candidate && highest > stream.floor) stream.candidate = { id: highest, xmax };
      }
    }
  }

  private forgetOn(stream: EventStream, ids: readonly string[]): void {
    const drop = new Set(ids);
    for (const id of ids) stream.sent.delete(id);
    stream.order = stream.order.filter((id) => !drop.has(id));
  }

  private send(stream: EventStream, rows: ReadonlyArray<{ id: string; operation: string; event: string }>): void {
    if (stream.closed) return;
    let text = '';
    let count = 0;
    const timestamps: string[] = [];
    for (const row of rows) {
      if (stream.sent.has(row.id) || BigInt(row.id) <= stream.floor) continue;
      stream.sent.add(row.id);
      stream.order.push(row.id);
      text += sseMessage({ id: row.id, event: row.operation, data: row.event });
      count++;
      const stamp = /"timestamp": ?"([^"]+)"/.exec(row.event)?.[1];
      if (stamp) timestamps.push(stamp);
    }
    if (text === '') return;
    stream.write(text);
    this.observer.delivered(count, timestamps);
  }

  /** A session that can no longer be read (deleted, not the role's): tell its streams and close them. */
  private fail(identity: Identity, sessionId: string, error: unknown): void {
    const failure = toHttpError(error);
    const key = identityKey(identity);
    for (const stream of [...(this.streams.get(sessionId) ?? [])]) {
      if (identityKey(stream.identity) !== key) continue;
      stream.write(sseMessage({ event: 'error', data: JSON.stringify({ error: failure.message, code: failure.code }) }));
      this.remove(stream);
    }
  }
}
