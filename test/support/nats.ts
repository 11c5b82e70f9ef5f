import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** The NATS server every session of this machine (and CI, .ci/run) has: JetStream on 127.0.0.1:4222. */
export const SHARED_NATS = 'nats://127.0.0.1:4222';
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/** Resolves once something accepts TCP connections on the port. */
export async function untilListening(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A nats-server of the test's own (JetStream, its own store), which the test may stop and start again. */
export interface OwnNats {
  url: string;
  port: number;
  start(): Promise<void>;
  /** Graceful stop (SIGTERM), waits for the exit. */
  stop(): Promise<void>;
  /** Stops and removes the store. */
  destroy(): Promise<void>;
}

export async function startOwnNats(): Promise<OwnNats> {
  const dir = await mkdtemp(join(tmpdir(), 'aqevent-nats-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  let child: ChildProcess | undefined;
  let output = '';
  const server: OwnNats = {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start() {
      output = '';
      child = spawn(NATS_SERVER, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (chunk) => (output += chunk));
      const failed = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${output}`))));
      await Promise.race([untilListening(port), failed]);
      // JetStream answers once its store is recovered.
      const nc = await connect({ servers: server.url });
      try {
        for (let i = 0; ; i++) {
          try {
            await (await jetstreamManager(nc)).getAccountInfo();
            break;
          } catch (error) {
            if (i > 100) throw error;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      } finally {
        await nc.close();
      }
      failed.catch(() => {});
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    },
    async destroy() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** One message of a stream, in stream order. */
export interface StreamMessage {
  seq: number;
  subject: string;
  msgId: string | undefined;
  data: string;
}

/** Every message of a stream, read back with an ordered JetStream consumer. */
export async function readStream(url: string, stream: string): Promise<StreamMessage[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const total = info.state.messages;
    const messages: StreamMessage[] = [];
    if (total === 0) return messages;
    const consumer = await jetstream(nc).consumers.get(stream);
    const iterator = await consumer.consume();
    for await (const message of iterator) {
      messages.push({ seq: message.seq, subject: message.subject, msgId: message.headers?.get('Nats-Msg-Id'), data: message.string() });
      if (message.info.pending === 0) break;
    }
    await iterator.close();
    return messages;
  } finally {
    await nc.close();
  }
}

/** Deletes a stream (a test's own, on the shared server). */
export async function deleteStream(url: string, stream: string): Promise<void> {
  const nc: NatsConnection = await connect({ servers: url });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => {});
  } finally {
    await nc.close();
  }
}
