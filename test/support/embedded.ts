// Helpers for the embedded-server tests: folders, an environment with no database configured, status as JSON.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { BIN, runCli } from './cli.js';

/** No DATABASE_URL, no PG*, no port: what sends a command to the embedded server. */
export const NO_DATABASE: NodeJS.ProcessEnv = {
  DATABASE_URL: '', PGHOST: '', PGPORT: '', PGDATABASE: '', PGUSER: '', PGHOSTADDR: '', PGSERVICE: '', AQEVENT_EMBEDDED_PORT: '',
};

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** Runs at the end of the test file, last registered first. */
export function atEnd(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup);
}

/** A folder that only its owner can enter (mkdtemp makes it 0700). */
export async function privateFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aqevent-embedded-'));
  atEnd(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A folder anyone may enter: as root, the server's user must reach a data directory inside. */
export async function openFolder(): Promise<string> {
  const dir = await privateFolder();
  await chmod(dir, 0o755);
  return dir;
}

export { freePort } from './ports.js';

/** `aqevent embedded status --json` of the checkout whose bin/aqevent is `bin`. */
export async function statusOf(env: NodeJS.ProcessEnv, bin = BIN): Promise<Record<string, any>> {
  const result = await runCli(['embedded', 'status', '--json'], env, 60_000, bin);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, any>;
}

/** Holds the default port, so that a server started without AQEVENT_EMBEDDED_PORT has to take another one. */
export async function occupyDefaultPort(): Promise<Server | undefined> {
  const server = createServer();
  const held = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false)); // already taken (another checkout's server): just as good
    server.listen(54329, '127.0.0.1', () => resolve(true));
  });
  if (!held) return undefined;
  atEnd(() => new Promise((resolve) => server.close(resolve)));
  return server;
}
