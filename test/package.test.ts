// The published package: `npm pack`, installed into an empty project, runs the README's TypeScript example and the CLI.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { embeddedHome } from '../src/db/embedded-paths.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { freePort } from './support/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
// npm hands its settings to scripts as npm_* variables; the project's npm must not install into this checkout.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));

let db: TestDatabase;
let dir: string;
let project: string;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'aqevent-package-'));
  await chmod(dir, 0o755); // as root, the embedded server's user keeps its data in here
  project = join(dir, 'project');
  await mkdir(project);
  // dist/ is built by `npm test` (npm run build) before the tests run; packing ships it as it is.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env: cleanEnv });
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, filename)], { cwd: project, env: cleanEnv });
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await rm(dir, { recursive: true, force: true });
  await db.drop();
});

test('the tarball holds the built library, the CLI and the SQL; no sources, no TypeScript needed at install', async () => {
  const manifest = JSON.parse(await readFile(join(project, 'node_modules', 'aqevent', 'package.json'), 'utf8'));
  assert.equal(manifest.private, undefined);
  assert.ok(!existsSync(join(project, 'node_modules', 'typescript')), 'typescript is not installed with it (prepare did not run)');
  assert.ok(existsSync(join(project, 'node_modules', '@types', 'pg')), 'the types its declarations name are');
  const { stdout: listing } = await run('find', ['.', '-type', 'f', '-not', '-path', './node_modules/*'], { cwd: join(project, 'node_modules', 'aqevent') });
  const files = listing.split('\n').filter(Boolean);
  assert.ok(files.includes('./dist/index.js') && files.includes('./dist/index.d.ts') && files.includes('./bin/aqevent'), listing);
  assert.ok(files.some((file) => file.startsWith('./sql/') && file.endsWith('.sql')), 'the migrations');
  assert.ok(!files.some((file) => file.startsWith('./src/') || file.startsWith('./test/') || file.endsWith('.map')), listing);
});

test('the README\'s TypeScript example type-checks against the installed types and runs against DATABASE_URL', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const example = /### From TypeScript[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example?.includes("from 'aqevent'"), 'the README has the example');
  await writeFile(join(project, 'example.ts'), example!);
  // The public types name pg's: they must come with the package (skipLibCheck would hide a missing @types/pg in its declarations).
  await writeFile(join(project, 'pool-type.ts'), `import type { Session } from 'aqevent';

import type pg from 'pg';
export const poolOf = (session: Session): pg.Pool => session.pool;
export const clientOf = (session: Session): Promise<pg.PoolClient> => poolOf(session).connect();
`);
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, outDir: 'out', types: ['node'], skipLibCheck: true },
    files: ['example.ts', 'pool-type.ts'],
  }));
  await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project }).catch((error) => {
    assert.fail(`tsc: ${error.stdout}${error.stderr}`);
  });

  await db.pool.query(`CREATE TABLE person (id serial PRIMARY KEY, name text, score int);
    INSERT INTO person (name, score) VALUES ('Joe Smith', 15), ('Don Jones', 12), ('Sandy Hill', 16), ('Nancy Makowsky', 9)`);
  const child = spawn(process.execPath, [join(project, 'out', 'example.js')], { cwd: project, env: { ...cleanEnv, DATABASE_URL: db.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(async () => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const printed = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('Sandy Jones')) resolve(stdout);
    });
    child.on('exit', (code) => reject(new Error(`the example exited (${code}): ${stdout}${stderr}`)));
  });
  // The example subscribes, then waits for events: wait for its subscription, then write.
  const deadline = Date.now() + 20_000;
  while (Number((await db.pool.query('SELECT count(*) AS n FROM event.subscription')).rows[0].n) === 0) {
    assert.ok(Date.now() < deadline, `the example never subscribed: ${stderr}`);
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), printed.catch(() => {})]);
  }
  await db.pool.query("UPDATE person SET name = 'Sandy Jones', score = score + 3 WHERE id = 3");
  const output = await printed;
  assert.match(output, /"Sandy Hill" } → \{ name: 'Sandy Jones' \}|Sandy Hill.*→.*Sandy Jones/);
});

test('the installed CLI runs: against DATABASE_URL, and on its own embedded PostgreSQL', async () => {
  const bin = join(project, 'node_modules', '.bin', 'aqevent');
  const migrate = await run(bin, ['--database-url', db.url, 'migrate'], { cwd: project, env: cleanEnv });
  assert.match(migrate.stdout, /schema is current/);

  const env = { ...cleanEnv, DATABASE_URL: '', PGHOST: '', PGPORT: '', PGDATABASE: '', PGUSER: '',
    AQEVENT_DATA_DIR: join(dir, 'embedded'), AQEVENT_EMBEDDED_PORT: String(await freePort()) };
  const status = JSON.parse((await run(bin, ['embedded', 'status', '--json'], { cwd: project, env })).stdout);
  cleanups.push(() => rm(join(embeddedHome(), status.key), { recursive: true, force: true }));
  cleanups.push(() => run(bin, ['embedded', 'stop'], { cwd: project, env }));
  // npm 11 skips the binaries package's install script (its library symlinks) unless the project allows it.
  const embedded = await run(bin, ['migrate'], { cwd: project, env });
  assert.match(embedded.stdout, /ran sql\/install\.sql/);
});
