import { Command, CommanderError } from 'commander';
import { AqeventError } from '../errors.js';
import { registerBridge } from './commands/bridge.js';
import { registerDemo } from './commands/demo.js';
import { registerMaintain } from './commands/maintain.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPurge } from './commands/purge.js';

const ENVIRONMENT_HELP = `
Environment:
  DATABASE_URL           connection string (same as --database-url)
  PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD
                         standard libpq variables, used when DATABASE_URL is unset
  AQEVENT_DATA_DIR       data directory of the embedded PostgreSQL (used when none of the above is set)
  AQEVENT_EMBEDDED_PORT  port of the embedded PostgreSQL (default 54329)`;

export function buildProgram(): Command {
  const program = new Command('aqevent')
    .description('durable change events for PostgreSQL')
    .option('--database-url <url>', 'PostgreSQL connection string (default: DATABASE_URL, PG*, else embedded)')
    .option('--json', 'machine-readable output (NDJSON for streams)')
    .showHelpAfterError()
    .exitOverride();
  registerMigrate(program);
  registerDemo(program);
  registerBridge(program);
  registerMaintain(program);
  registerPurge(program);
  for (const command of [program, ...program.commands]) {
    command.addHelpText('after', ENVIRONMENT_HELP);
    command.exitOverride();
  }
  return program;
}

/** Runs the CLI; owns the process: exit codes and one-line errors. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    const sqlstate = error instanceof AqeventError && error.sqlstate ? ` [${error.sqlstate}]` : (error as { code?: unknown })?.code && typeof (error as { code?: unknown }).code === 'string' ? ` [${(error as { code: string }).code}]` : '';
    console.error(`aqevent: ${message}${sqlstate}`);
    process.exitCode = 1;
  }
}
