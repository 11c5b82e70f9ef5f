import { Command, CommanderError } from 'commander';
import { UsageError } from './arguments.js';
import { registerAck } from './commands/ack.js';
import { registerBridge } from './commands/bridge.js';
import { registerDead } from './commands/dead.js';
import { registerDemo } from './commands/demo.js';
import { registerDrain } from './commands/drain.js';
import { registerEmbedded } from './commands/embedded.js';
import { registerForward } from './commands/forward.js';
import { registerMaintain } from './commands/maintain.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPurge } from './commands/purge.js';
import { registerServe } from './commands/serve.js';
import { registerSession } from './commands/session.js';
import { registerStats } from './commands/stats.js';
import { registerSubscribe } from './commands/subscribe.js';
import { registerTail } from './commands/tail.js';
import { registerToken } from './commands/token.js';
import { registerUnsubscribe } from './commands/unsubscribe.js';
import type { GlobalOptions } from './context.js';
import { adviceFor, errorLine } from './hints.js';

const ENVIRONMENT_HELP = `
Environment:
  DATABASE_URL           connection string (same as --database-url)
  PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD
                         standard libpq variables, used when DATABASE_URL is unset
  AQEVENT_DATA_DIR       data directory of the embedded PostgreSQL (used when none of the above is set)
  AQEVENT_EMBEDDED_PORT  port of the embedded PostgreSQL (default: 54329 or the next free port, chosen once)
  NO_COLOR               no colours (colours are used only when stdout is a terminal)

Exit codes: 0 success, 1 runtime error (database, connection, unknown session), 2 usage error.`;

/** Exit code of a usage error: bad arguments, unknown command, missing argument (docs/cli-reference.md). */
export const USAGE_EXIT = 2;

/** The commands, in help order. One register function per file in commands/: add yours here. */
const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerMigrate,
  registerSession,
  registerSubscribe,
  registerUnsubscribe,
  registerTail,
  registerDrain,
  registerAck,
  registerDead,
  registerStats,
  registerBridge,
  registerForward,
  registerMaintain,
  registerPurge,
  registerServe,
  registerToken,
  registerDemo,
  registerEmbedded,
];

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

export function buildProgram(): Command {
  const program = new Command('aqevent')
    .description('durable change events for PostgreSQL')
    .option('--database-url <url>', 'PostgreSQL connection string (default: DATABASE_URL, PG*, else embedded)')
    .option('--json', 'machine-readable output (NDJSON for event streams)')
    // Commander's own errors as one line, like ours; the help is one --help away.
    .configureOutput({ outputError: (text, write) => write(`aqevent: ${text.replace(/^error: /, '').trimEnd()}\n`) })
    .exitOverride();
  for (const register of COMMANDS) register(program);
  for (const command of allCommands(program)) {
    command.addHelpText('after', ENVIRONMENT_HELP);
    command.exitOverride();
    command.configureOutput(program.configureOutput());
  }
  return program;
}

/** Runs the CLI; owns the process: exit codes and one-line errors. */
export async function main(argv: string[]): Promise<void> {
  // `aqevent tail | head`: a closed pipe ends the output, not with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError && !(error instanceof UsageError)) {
      // Already printed by commander. Help and version exit 0; everything else is a usage error.
      process.exitCode = error.exitCode === 0 ? 0 : USAGE_EXIT;
      return;
    }
    const advice = await adviceFor(error, program.opts<GlobalOptions>().databaseUrl).catch(() => undefined);
    console.error(errorLine(error, advice));
    process.exitCode = error instanceof UsageError ? USAGE_EXIT : 1;
  }
}
