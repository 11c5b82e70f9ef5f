import type { Command } from 'commander';
import { embeddedStatus, type EmbeddedStatus, stopEmbedded } from '../../index.js';
import type { GlobalOptions } from '../context.js';
import { formatTime, out, paint, printFields, toJson } from '../format.js';

function stateText(status: EmbeddedStatus): string {
  if (status.running) return paint(`running (${status.state}), pid ${status.pid}, port ${status.port}`, 'green');
  return status.initialised ? 'stopped' : 'not initialised (the first command that needs a database creates it)';
}

function printStatus(status: EmbeddedStatus): void {
  const fields: [string, string][] = [
    ['data directory', status.dataDir],
    ['server', stateText(status)],
    ['this checkout', `${status.checkout} (key ${status.key})`],
  ];
  if (status.startedBy) fields.push(['started by', `${status.startedBy}${status.startedAt ? ` at ${formatTime(status.startedAt)}` : ''}`]);
  if (status.binaries) fields.push(['binaries', `${status.binaries} (PostgreSQL ${status.version})`]);
  if (status.connectionString) fields.push(['connect', status.connectionString]);
  fields.push(['log', status.logFile]);
  printFields(fields);
}

/** aqevent embedded status|stop: the embedded PostgreSQL that commands start when no database is configured. */
export function registerEmbedded(program: Command): void {
  const embedded = program
    .command('embedded')
    .description('the embedded PostgreSQL of this checkout (used when no DATABASE_URL or PG* is set): status, stop');
  embedded
    .command('status')
    .description('where its data lives, whether it runs (pid, port), who started it, with which binaries; starts nothing')
    .action(async (_options, command: Command) => {
      const status = await embeddedStatus();
      if (command.optsWithGlobals<GlobalOptions>().json) out(toJson(status));
      else printStatus(status);
    });
  embedded
    .command('stop')
    .description('stop it (fast shutdown: connections end, committed data stays); the next command that needs it starts it again')
    .action(async (_options, command: Command) => {
      const status = await embeddedStatus();
      const stopped = await stopEmbedded({ dataDir: status.dataDir });
      if (command.optsWithGlobals<GlobalOptions>().json) return out(toJson({ dataDir: status.dataDir, pid: status.pid, stopped }));
      out(stopped ? `stopped the embedded PostgreSQL in ${status.dataDir} (pid ${status.pid})` : paint(`the embedded PostgreSQL in ${status.dataDir} is not running`, 'dim'));
    });
}
