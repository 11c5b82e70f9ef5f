/**
 * Starts bench/fixtures/consumer.mjs (on the built library, dist/) in a child process and speaks its
 * line protocol: waits for "ready" and "done", and measures the offset of
 * the child's clock against ours (both are performance.timeOrigin +
 * performance.now(), wall time; the offset is checked, not assumed zero).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'consumer.mjs');

export const wallNow = () => performance.timeOrigin + performance.now();

export interface ConsumerDone {
  received: number;
  maxRssMb: number;
  seconds: number;
  /** [row id, wall ms in the child's clock, …] when recording. */
  receipts: number[];
}

type Message = { type: 'ready'; rssMb: number } | { type: 'pong'; t: number } | ({ type: 'done' } & ConsumerDone);

export class ConsumerProcess {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  /** Messages that arrived before anyone waited for them. */
  private readonly unclaimed: Message[] = [];
  private exited: Error | undefined;

  constructor(config: pg.ClientConfig, sessionId: string, batchSize: number, record: boolean) {
    this.child = spawn(process.execPath, [SCRIPT, sessionId, String(batchSize), record ? '1' : '0'], {
      env: { ...process.env, AQEVENT_BENCH_CLIENT: JSON.stringify(config) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as Message;
      const waiter = this.waiting.get(message.type);
      this.waiting.delete(message.type);
      if (waiter) waiter.resolve(message);
      else this.unclaimed.push(message);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`bench consumer exited (code ${code}, signal ${signal})`);
      for (const waiter of this.waiting.values()) waiter.reject(this.exited);
      this.waiting.clear();
    });
  }

  private next(type: Message['type'], timeoutMs: number): Promise<Message> {
    const early = this.unclaimed.findIndex((m) => m.type === type);
    if (early >= 0) return Promise.resolve(this.unclaimed.splice(early, 1)[0]!);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(type);
        reject(new Error(`bench consumer: no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(type, {
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
  }

  /** Resolves once the child received the warm-up event (row id 0), with its resident memory then. */
  async ready(timeoutMs = 60_000): Promise<{ rssMb: number }> {
    return (await this.next('ready', timeoutMs)) as { rssMb: number };
  }

  /** Child clock minus ours, in ms: from the ping with the shortest round trip of `pings`. */
  async clockOffset(pings = 20): Promise<{ offsetMs: number; roundTripMs: number }> {
    let best = { offsetMs: 0, roundTripMs: Infinity };
    for (let i = 0; i < pings; i++) {
      const pong = this.next('pong', 10_000);
      const sent = wallNow();
      this.child.stdin!.write('ping\n');
      const { t } = (await pong) as { t: number };
      const back = wallNow();
      if (back - sent < best.roundTripMs) best = { offsetMs: t - (sent + back) / 2, roundTripMs: back - sent };
    }
    return best;
  }

  /** Resolves with the child's report after it received the sentinel (row id < 0). */
  async done(timeoutMs: number): Promise<ConsumerDone> {
    const message = await this.next('done', timeoutMs);
    return message as ConsumerDone;
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
