import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { z } from 'zod';
import { LiveQueue } from '../consumer/live-queue.js';
import { AqeventError, fromPgError } from '../errors.js';
import type { DeliveredEvent } from '../events/schema.js';
import { retryDelay } from '../live/backoff.js';
import { assertPoolCanListen } from '../live/listener.js';
import { sessionSettings, setMaxAttempts } from '../sql/sessions.js';
import type { DeliveryOrder } from '../sql/stats.js';
import { uuidSchema, validate } from '../validate.js';
import { LeaseKeeper } from './lease-keeper.js';
import { RowLanes } from './lanes.js';
import { type WorkerOptions, type WorkerSettings, workerSettings } from './options.js';
import { Settler } from './settle.js';
import { Changes, Semaphore } from './sync.js';

/** What a handler is told besides the event. */
export interface HandlerContext {
  /** This delivery's number, 1 for the first. */
  readonly attempts: number;
  /** A failure now makes the event a dead letter. */
  readonly lastAttempt: boolean;
  /** Aborted when stop() stops waiting for the handler (shutdownTimeout); its event then comes back after its lease. */
  readonly signal: AbortSignal;
  readonly sessionId: string;
}

/** Resolves (or returns) when the event is done; throws (or rejects) when it failed and should be retried. */
export type WorkerHandler = (event: DeliveredEvent, context: HandlerContext) => unknown;

/** Events a Worker emits, for logging and metrics. None of them is 'error': an unheard emit never throws. */
export interface WorkerEvents {
  /** The handler succeeded and the event was acknowledged. */
  processed: [event: DeliveredEvent, durationMs: number];
  /** The handler failed; the event comes back after delayMs, or becomes a dead letter at the next fetch. */
  failed: [event: DeliveredEvent, error: unknown, outcome: { delayMs: number; deadLetter: boolean }];
  /** Events given back unstarted (stop, or behind a failed event of their row). */
  released: [ids: string[]];
  /** Events whose lease ended while the worker held them; they may be delivered again. */
  leaseLost: [ids: string[]];
  /** A transient failure (lost connection, server restart); the worker retries by itself. */
  connectionError: [error: AqeventError];
  /** The worker stopped; with the error that stopped it, if any (e.g. the session was deleted). */
  stopped: [error: AqeventError | undefined];
}

type EventState = 'waiting' | 'running' | 'settling' | 'gone';
type WorkerState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

const MAX_ERROR_TEXT = 4000;

/**
 * The worker's source: a Session, or a client (an Aqevent) and a session id.
 * Written by shape, so that the worker sits below Session and Aqevent.
 */
export type WorkerSource = { readonly pool: pg.Pool; readonly id: string } | { client: { readonly pool: pg.Pool }; sessionId: string };

const isPool = (value: unknown) => typeof (value as pg.Pool | null)?.connect === 'function';
const sourceSchema = z.union([
  z.object({ client: z.object({ pool: z.custom<pg.Pool>(isPool, 'expected an Aqevent client') }, 'expected an Aqevent client'), sessionId: uuidSchema })
    .strict().transform((s) => ({ pool: s.client.pool, id: s.sessionId })),
  z.custom<{ pool: pg.Pool; id: string }>((v) => typeof v === 'object' && v !== null && !('client' in v) && isPool((v as { pool?: unknown }).pool), 'expected a Session')
    .transform((s) => ({ pool: s.pool, id: validate(uuidSchema, s.id, 'session id') })),
]);

/** The pool and session id of a source. */
function toSession(source: WorkerSource): { pool: pg.Pool; id: string } {
  return validate(sourceSchema, source, 'worker source (a Session or { client, sessionId })');
}

/**
 * Runs a handler for every event of a session, with concurrency, leases it
 * renews, retries with backoff, dead letters, graceful shutdown and
 * reconnects. See docs/library.md ("Worker") and docs/guarantees.md.
 *
 *   const worker = new Worker(session, async (event) => { … }, { concurrency: 4 });
 *   await worker.start();
 *   …
 *   await worker.stop();
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly sessionId: string;
  private readonly session: { pool: pg.Pool; id: string };
  private readonly settings: WorkerSettings;
  private state: WorkerState = 'new';
  private deliveryOrder: DeliveryOrder = 'strict';
  private maxAttempts = 5;
  private readonly held = new Map<string, EventState>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly changes = new Changes();
  private readonly lanes = new RowLanes();
  private readonly slots: Semaphore;
  private readonly settler: Settler;
  private readonly leases: LeaseKeeper;
  private readonly fetchAbort = new AbortController();
  private readonly handlerAbort = new AbortController();
  private queue: LiveQueue | undefined;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private fatal: AqeventError | undefined;
  private abandoned = false;
  private readonly finished: Promise<void>;
  private finish!: (error?: AqeventError) => void;
  private readonly onSignal = () => void this.stop();

  constructor(source: WorkerSource, private readonly handler: WorkerHandler, options?: WorkerOptions) {
    super();
    this.session = toSession(source);
    if (typeof handler !== 'function') throw new AqeventError('invalid_argument', 'invalid worker handler: expected a function');
    this.sessionId = this.session.id;
    this.settings = workerSettings(options);
    assertPoolCanListen(this.session.pool, 'run a worker');
    const report = (error: AqeventError) => this.tell('connectionError', error);
    this.slots = new Semaphore(this.settings.concurrency);
    this.settler = new Settler(this.session.pool, this.sessionId, this.settings.lease, this.settings.maxReconnectDelay, report);
    this.leases = new LeaseKeeper(this.session.pool, this.sessionId, this.settings.lease,
      () => this.idsIn('waiting', 'running'), (ids) => this.leaseLost(ids), report);
    this.finished = new Promise<void>((resolve, reject) => {
      this.finish = (error) => (error ? reject(error) : resolve());
    });
    this.finished.catch(() => {}); // wait() hands the error on; nobody has to ask
  }

  /**
   * Starts fetching. Applies the maxAttempts option to the session and reads
   * its delivery order; fails (and the worker stays unstarted) when the
   * session does not exist or is not the caller's.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new AqeventError('invalid_argument', `worker already ${this.state === 'starting' ? 'starting' : 'started'}`);
    this.state = 'starting';
    try {
      if (this.settings.maxAttempts !== undefined) await setMaxAttempts(this.session.pool, this.sessionId, this.settings.maxAttempts);
      const current = await sessionSettings(this.session.pool, this.sessionId);
      this.maxAttempts = current.maxAttempts;
      this.deliveryOrder = current.deliveryOrder;
    } catch (error) {
      this.state = 'new';
      throw error;
    }
    this.queue = new LiveQueue(this.session.pool, this.sessionId, {
      batchSize: this.settings.batchSize,
      leaseMs: this.settings.lease,
      pollMs: this.settings.pollInterval,
      maxReconnectDelayMs: this.settings.maxReconnectDelay,
      signal: this.fetchAbort.signal,
      onError: (error) => this.tell('connectionError', error),
    });
    if (this.settings.handleSignals) {
      process.on('SIGINT', this.onSignal);
      process.on('SIGTERM', this.onSignal);
    }
    if (this.settings.renewLease) this.leases.start();
    this.state = 'running';
    this.loop = this.fetchLoop();
  }

  /**
   * Graceful stop: no more fetches; events fetched but not started are
   * released at once (not counted as an attempt); running handlers get up
   * to shutdownTimeout to finish, and are acked or nacked as usual. Handlers
   * still running then are left alone (their signal is aborted) and their
   * events come back after their lease. Idempotent.
   */
  stop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      this.finish();
      return Promise.resolve();
    }
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Resolves when the worker has stopped; rejects with the error that stopped it (e.g. the session was deleted). */
  wait(): Promise<void> {
    return this.finished;
  }

  /** Events fetched and not yet settled. */
  get inHand(): number {
    return this.held.size;
  }

  private get stopRequested(): boolean {
    return this.state === 'stopping' || this.state === 'stopped';
  }

  private async fetchLoop(): Promise<void> {
    const queue = this.queue!;
    try {
      for (;;) {
        // Strict order: the session has one batch in flight; a fetch before it is settled finds nothing.
        while (!this.stopRequested && this.held.size >= (this.deliveryOrder === 'strict' ? 1 : this.settings.concurrency)) {
          await this.changes.next();
        }
        if (this.stopRequested) return;
        const batch = await queue.next();
        if (!batch) return;
        for (const event of batch) this.held.set(event.id, 'waiting');
        if (this.stopRequested) return; // shutdown releases them
        for (const event of batch) this.schedule(event);
      }
    } catch (error) {
      this.fatal = fromPgError(error, 'worker fetch');
      void this.stop();
    }
  }

  private schedule(event: DeliveredEvent): void {
    void this.lanes.schedule(event, async (predecessorsOk) => {
      if (this.held.get(event.id) !== 'waiting') return false; // released by stop, or its lease was lost
      if (!predecessorsOk) {
        await this.release([event.id]);
        return false;
      }
      if (!(await this.slots.acquire())) return false;
      try {
        if (this.held.get(event.id) !== 'waiting') return false;
        const run = this.handle(event);
        this.running.add(run);
        try {
          return await run;
        } finally {
          this.running.delete(run);
        }
      } finally {
        this.slots.release();
      }
    });
  }

  /** Runs the handler, then acks or nacks. True when the handler succeeded. */
  private async handle(event: DeliveredEvent): Promise<boolean> {
    this.held.set(event.id, 'running');
    const lastAttempt = event.attempts >= this.maxAttempts;
    const started = Date.now();
    const context: HandlerContext = { attempts: event.attempts, lastAttempt, signal: this.handlerAbort.signal, sessionId: this.sessionId };
    let failure: { error: unknown } | undefined;
    try {
      await this.handler(event, context);
    } catch (error) {
      failure = { error };
    }
    if (this.abandoned) return false; // stop() gave up on it: it comes back after its lease
    this.held.set(event.id, 'settling');
    try {
      if (!failure) {
        await this.settler.ack(event.id);
        this.tell('processed', event, Date.now() - started);
        return true;
      }
      const delayMs = lastAttempt ? 0 : retryDelay(event.attempts, this.settings.retry);
      this.tell('failed', event, failure.error, { delayMs, deadLetter: lastAttempt });
      await this.settler.nack(event.id, delayMs, errorText(failure.error));
      return false;
    } finally {
      this.forget([event.id]);
    }
  }

  private async release(ids: string[]): Promise<void> {
    const waiting = ids.filter((id) => this.held.get(id) === 'waiting');
    if (waiting.length === 0) return;
    for (const id of waiting) this.held.set(id, 'settling');
    try {
      await this.settler.release(waiting);
      this.tell('released', waiting);
    } finally {
      this.forget(waiting);
    }
  }

  private leaseLost(ids: string[]): void {
    const lost = ids.filter((id) => this.held.get(id) === 'waiting' || this.held.get(id) === 'running');
    if (lost.length === 0) return;
    // Not started: someone else may have it by now, so it is not run here.
    this.forget(lost.filter((id) => this.held.get(id) === 'waiting'));
    this.tell('leaseLost', lost);
  }

  /** emit, but a listener that throws must not break the worker (the bookkeeping around it has to run). */
  private tell<K extends keyof WorkerEvents>(name: K, ...args: WorkerEvents[K]): void {
    try {
      (this.emit as (name: K, ...args: WorkerEvents[K]) => boolean)(name, ...args);
    } catch (error) {
      process.emitWarning(`aqevent Worker: a '${String(name)}' listener threw: ${errorText(error)}`);
    }
  }

  private forget(ids: string[]): void {
    for (const id of ids) this.held.delete(id);
    this.changes.notify();
  }

  private idsIn(...states: EventState[]): string[] {
    return [...this.held].filter(([, state]) => states.includes(state)).map(([id]) => id);
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopping';
    if (this.settings.handleSignals) {
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
    }
    this.fetchAbort.abort();
    this.changes.notify();
    const deadline = Date.now() + this.settings.shutdownTimeout;
    const timeLeft = () => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref());
    await Promise.race([this.loop, timeLeft()]);
    this.slots.cancelWaiters();
    await this.release(this.idsIn('waiting'));
    // Running handlers, and the acks of those that finish, get until the deadline.
    await Promise.race([this.drained(), timeLeft()]);
    if (this.held.size > 0) {
      this.abandoned = true;
      this.handlerAbort.abort();
    }
    this.leases.stop();
    this.queue?.close();
    this.state = 'stopped';
    this.tell('stopped', this.fatal);
    this.finish(this.fatal);
  }

  private async drained(): Promise<void> {
    while (this.held.size > 0) await this.changes.next();
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}
